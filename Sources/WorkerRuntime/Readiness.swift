import Foundation
import Synchronization

/// Where a worker process is in its life, as supervisors see it: the admin endpoint's `/readyz`, sd_notify and
/// the metrics read it. Set by `WorkerProcess` (ready once recovery is done) and the dispatcher (stop requests).
public final class Readiness: Sendable {
    /// A phase of the worker's life, in the order it goes through them.
    public enum Phase: String, Sendable {
        /// Registering and recovering what dead workers held: no intake yet.
        case starting
        /// Recovery done, intake open.
        case ready
        /// TSTP: intake stopped, in-flight jobs keep running.
        case quiet
        /// TERM/INT: intake stopped, in-flight jobs finishing until the drain deadline.
        case draining
        /// Cancelling what is left (deadline passed, second TERM, QUIT), then exiting.
        case stopping
    }

    private struct State {
        var phase = Phase.starting
        /// Boot recovery is done (also when a stop came during it).
        var booted = false
        var stopBegan: ContinuousClock.Instant?
        /// When the process must be gone by the drain's own reckoning (deadline, grace, finalisation).
        var exitBy: ContinuousClock.Instant?
        var observers: [@Sendable (Change) -> Void] = []
    }

    /// What an observer is told: the phase, whether boot recovery is done, and how long the exit may still take.
    public struct Change: Sendable {
        public let phase: Phase
        public let booted: Bool
        /// Set once a drain or stop began.
        public let exitWithin: Duration?
    }

    private let state = Mutex(State())

    /// A new process: `starting`.
    public init() {}

    /// The current phase.
    public var phase: Phase { state.withLock { $0.phase } }

    /// Whether intake is open (`/readyz` answers 200).
    public var isReady: Bool { phase == .ready }

    /// Whether boot recovery is done (the heartbeat then recovers dead peers too).
    public var booted: Bool { state.withLock { $0.booted } }

    /// How long ago intake stopped (quiet, drain or stop); nil while it is open.
    public var stoppedFor: Duration? {
        state.withLock { state in state.stopBegan.map { ContinuousClock.now - $0 } }
    }

    /// How long the process expects to take still to exit (nil before a drain began).
    public var exitWithin: Duration? {
        state.withLock { state in state.exitBy.map { max(.zero, $0 - ContinuousClock.now) } }
    }

    /// Marks a process that runs no jobs (`worker dashboard`) ready at once.
    public func readyWithoutWorker() { enter(.ready) }

    /// Calls `observer` on every change (phase, boot done), under the state's lock, so that observers see the
    /// changes in order; keep it short and do not call back into this object.
    public func observe(_ observer: @escaping @Sendable (Change) -> Void) {
        state.withLock { $0.observers.append(observer) }
    }

    /// Moves on to `phase`; going back (e.g. `ready` after `draining`) is ignored.
    func enter(_ phase: Phase, exitBy: ContinuousClock.Instant? = nil) {
        state.withLock { state in
            guard phase.order > state.phase.order || (phase == .draining && state.phase == .quiet) else { return }
            state.phase = phase
            if phase.order >= Phase.quiet.order, state.stopBegan == nil { state.stopBegan = .now }
            if let exitBy { state.exitBy = min(state.exitBy ?? exitBy, exitBy) }
            Self.tell(state)
        }
    }

    /// Boot recovery is done: intake opens unless a stop came meanwhile.
    func bootDone() {
        state.withLock { state in
            state.booted = true
            if state.phase == .starting { state.phase = .ready }
            Self.tell(state)
        }
    }

    private static func tell(_ state: State) {
        let change = Change(
            phase: state.phase, booted: state.booted, exitWithin: state.exitBy.map { max(.zero, $0 - ContinuousClock.now) })
        for observer in state.observers { observer(change) }
    }
}

extension Readiness.Phase {
    fileprivate var order: Int {
        switch self {
        case .starting: 0
        case .ready: 1
        case .quiet: 2
        case .draining: 2
        case .stopping: 3
        }
    }
}
