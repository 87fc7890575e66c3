/// How the worker is asked to stop taking work.
public enum StopRequest: Sendable, Equatable {
    /// Stop intake, let in-flight jobs finish until the drain deadline, then cancel them.
    case drain(reason: String)
    /// Stop intake and cancel in-flight jobs now (second TERM/INT, QUIT).
    case immediate(reason: String)
    /// Stop intake, keep in-flight jobs running (TSTP).
    case quiet
}

/// Where the dispatcher is between taking work and exiting, and what each stop request changes. The drain has
/// one deadline, on the runtime's monotonic clock; plugins see it converted once (`Change.pluginDeadline`).
struct DrainState {
    enum Mode: Equatable {
        case running
        case quiet
        case draining(deadline: ContinuousClock.Instant, reason: String)
        /// Cancelled everything; jobs still running at `graceEnd` are recorded interrupted without waiting.
        case stopping(graceEnd: ContinuousClock.Instant, reason: String)
    }

    /// What the dispatcher must do when the mode changes.
    struct Change: Equatable {
        /// The phase supervisors see from now on, and when the process expects to be gone by.
        var phase: Readiness.Phase
        var exitBy: ContinuousClock.Instant?
        /// Give back the jobs claimed ahead, interrupted with this reason.
        var release: String?
        /// Cancel the jobs in flight: interrupted with this reason when they stop.
        var cancel: String?
        /// Tell plugins a drain began, with this deadline (when unfinished jobs are cancelled).
        var pluginDeadline: ContinuousClock.Instant?
    }

    /// What the process may still need after the grace to commit what is left and exit, as told to supervisors.
    static let finalisation = Duration.seconds(1)
    /// The grace of an immediate stop (second TERM, QUIT): the contract's exit within 1 s.
    static let immediateGrace = Duration.milliseconds(500)

    private(set) var mode = Mode.running
    let drainTimeout: Duration
    let cancelGrace: Duration

    init(drainTimeout: Duration, cancelGrace: Duration) {
        self.drainTimeout = drainTimeout
        self.cancelGrace = cancelGrace
    }

    var isRunning: Bool { mode == .running }

    /// Applies a stop request made at `now`; nil when it changes nothing (a drain while stopping, say).
    mutating func request(_ request: StopRequest, at now: ContinuousClock.Instant) -> Change? {
        switch (request, mode) {
        case (.quiet, .running):
            mode = .quiet
            return Change(phase: .quiet, release: "quiet")
        case (.drain(let reason), .running), (.drain(let reason), .quiet):
            let deadline = now + drainTimeout
            mode = .draining(deadline: deadline, reason: reason)
            return Change(
                phase: .draining, exitBy: deadline + cancelGrace + Self.finalisation, release: reason, pluginDeadline: deadline)
        case (.immediate(let reason), _), (.drain(let reason), .draining):
            if case .stopping = mode { return nil }
            let grace = min(cancelGrace, Self.immediateGrace)
            mode = .stopping(graceEnd: now + grace, reason: reason)
            return Change(
                phase: .stopping, exitBy: now + grace + Self.finalisation, release: reason, cancel: reason, pluginDeadline: now)
        default:
            return nil
        }
    }

    /// Draining past the deadline: the jobs still in flight are cancelled, and get `cancelGrace` to stop.
    mutating func passDeadline(at now: ContinuousClock.Instant) -> Change? {
        guard case .draining(let deadline, let reason) = mode, now >= deadline else { return nil }
        let stopped = "\(reason): drain deadline passed"
        mode = .stopping(graceEnd: now + cancelGrace, reason: stopped)
        return Change(phase: .stopping, exitBy: now + cancelGrace + Self.finalisation, cancel: stopped)
    }

    /// Stopping past the grace: why the jobs still in flight are recorded interrupted without waiting for them.
    func graceOver(at now: ContinuousClock.Instant) -> String? {
        guard case .stopping(let graceEnd, let reason) = mode, now >= graceEnd else { return nil }
        return reason
    }

    /// How long the loop may wait before it must look at the state again (nil while running: the loop decides).
    func waitLimit(at now: ContinuousClock.Instant) -> Duration? {
        switch mode {
        case .running: nil
        case .quiet: .milliseconds(100)
        case .draining(let deadline, _): max(.zero, min(deadline - now, .milliseconds(100)))
        case .stopping(let graceEnd, _): max(.zero, min(graceEnd - now, .milliseconds(50)))
        }
    }

    /// Why intake stopped, when it did.
    var stopReason: String? {
        switch mode {
        case .running: nil
        case .quiet: "quiet"
        case .draining(_, let reason), .stopping(_, let reason): reason
        }
    }

    var name: String {
        switch mode {
        case .running: "running"
        case .quiet: "quiet"
        case .draining: "draining"
        case .stopping: "stopping"
        }
    }
}
