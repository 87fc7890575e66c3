import Foundation
import Journal
import Logging
import PluginHost
import Synchronization

/// How the worker is asked to stop taking work.
public enum StopRequest: Sendable, Equatable {
    /// Stop intake, let in-flight jobs finish until the drain deadline, then cancel them.
    case drain(reason: String)
    /// Stop intake and cancel in-flight jobs now (second TERM/INT, QUIT).
    case immediate(reason: String)
    /// Stop intake, keep in-flight jobs running (TSTP).
    case quiet
}

/// The worker loop: claims jobs up to the concurrency, hands them to their plugins, and records how they end
/// in group commits. Drains on request. State lives in this actor; jobs run on their own executors.
public actor Dispatcher {
    enum Mode: Equatable {
        case running
        case quiet
        case draining(deadline: ContinuousClock.Instant, reason: String)
        /// Cancelled everything; jobs still running at `graceEnd` are recorded interrupted without waiting.
        case stopping(graceEnd: ContinuousClock.Instant, reason: String)
    }

    struct Running {
        let job: Job
        let execution: JobExecution
        let started: ContinuousClock.Instant
        /// Why it was cancelled, when it was: decides interrupted (drain) or cancelled (operator).
        var cancelReason: CancelReason?
    }

    enum CancelReason {
        case drain(String)
        case operatorRequest
    }

    let journal: Journal
    let host: PluginHost
    /// The loaded handlers and their plugins, fixed once the plugins are loaded (read on every claim).
    let handlers: [String]
    let stamps: [String: PluginStamp]
    let options: WorkerOptions
    let logger: Logger
    /// Where the worker is in its life, for supervisors: stop requests move it on.
    public let readiness: Readiness
    let metrics: JobMetrics
    /// This worker's id in the journal.
    public let worker: String
    private var mode = Mode.running
    private var inflight: [Int64: Running] = [:]
    private var ended: [(job: Job, outcome: JobOutcome, started: ContinuousClock.Instant)] = []
    /// When the oldest outcome in `ended` arrived.
    private var endedSince: ContinuousClock.Instant?
    private var lastDataVersion: Int64?
    private var nextRunAt: Micros?
    private var missingReported: Set<String> = []
    /// Jobs claimed ahead (`prefetch`), started as slots free up.
    private var reserve: [Job] = []
    private var sizer = ReserveSizer()
    /// A job under which a worker died, running alone: nothing else is claimed until it ends.
    private var suspect: Int64?
    /// Outcomes reported by plugins, waiting for the loop to take them.
    private let arrivals = Arrivals()
    private var nudged = false
    /// A stop request came since the loop last waited (its wake-up may have been taken by a round's commit).
    private var stopChanged = false
    private let waker = Waker()
    /// Wakes the idle loop when another process commits (nil: poll every `pollInterval` instead); made by `run()`.
    private var peerCommits: PeerCommitWatch?
    /// While idle: the gap before the next look, while a commit seen being written may still be settling; nil
    /// once settled.
    private var settleGap: Duration? = .milliseconds(1)
    private(set) var claimedCount = 0
    /// Outcomes recorded, by the state each job went to (`interrupted` included: it is not finished).
    private var outcomes: [JobState: Int] = [:]
    /// Why an `exitWhenIdle` worker ended with jobs it cannot run still waiting (exit 78), or nil.
    public private(set) var stranded: WorkerError?
    /// Commits of the loop (finish-and-claim rounds): outcomes over rounds is the jobs each commit carried.
    public private(set) var rounds = 0

    /// A dispatcher for `worker`, registered in `journal`, running jobs through `host` (its plugins loaded).
    public init(
        journal: Journal, host: PluginHost, worker: String, options: WorkerOptions, logger: Logger,
        readiness: Readiness = Readiness(), metrics: JobMetrics = .disabled
    ) {
        self.journal = journal
        self.host = host
        handlers = Array(host.plugins.keys).sorted()
        stamps = host.stamps
        self.worker = worker
        self.options = options
        self.logger = logger
        self.readiness = readiness
        self.metrics = metrics
    }

    /// Runs until a drain completes, or (with `exitWhenIdle`) until no job is left. Every job this worker
    /// claimed is recorded as completed, failed, cancelled or interrupted before it returns.
    public func run() async throws {
        peerCommits = PeerCommitWatch(walPath: PeerCommitWatch.walPath(ofDatabase: journal.path), waker: waker)
        if peerCommits == nil {
            logger.notice("inotify is not available: looking for other processes' commits every \(options.pollInterval) while idle")
        }
        defer { peerCommits = nil }  // closes the watch
        var shouldClaim = true
        loop: while true {
            collectArrivals()
            if mode != .running { try await commitEnded() }
            let now = ContinuousClock.now
            switch mode {
            case .running:
                let free = suspect == nil ? options.concurrency - inflight.count + reservePlan.count - reserve.count : 0
                var worthClaiming = (shouldClaim && free > 0) || !ended.isEmpty
                if !worthClaiming && free > 0 { worthClaiming = try await somethingNew() }
                if worthClaiming {
                    // One transaction records what ended and claims what fits in the freed slots.
                    let claimed = try await exchange()
                    if claimed == 0 && free > 0 {
                        nextRunAt = try await journal.nextRunAt()  // nothing ready: when will something be?
                    }
                }
                if options.exitWhenIdle, inflight.isEmpty, reserve.isEmpty, try await isIdle() { break loop }
            case .quiet:
                break
            case .draining(let deadline, let reason):
                if inflight.isEmpty { break loop }
                if now >= deadline {
                    cancelAll(.drain("\(reason): drain deadline passed"))
                    mode = .stopping(graceEnd: now + options.cancelGrace, reason: "\(reason): drain deadline passed")
                    readiness.enter(.stopping, exitBy: now + options.cancelGrace + Self.finalisation)
                    continue loop
                }
            case .stopping(let graceEnd, let reason):
                if inflight.isEmpty { break loop }
                if now >= graceEnd {
                    abandonRunning(reason: reason)
                    break loop
                }
            }
            shouldClaim = await waitForWork()
        }
        try await commitEnded()
    }

    /// Stops intake as requested (see `StopRequest`).
    public func stop(_ request: StopRequest) {
        let now = ContinuousClock.now
        switch (request, mode) {
        case (.quiet, .running):
            mode = .quiet
            readiness.enter(.quiet)
            releaseReserve("quiet")
            logger.notice("quiet: intake stopped, \(inflight.count) job(s) keep running")
        case (.drain(let reason), .running), (.drain(let reason), .quiet):
            let deadline = now + options.drainTimeout
            mode = .draining(deadline: deadline, reason: reason)
            readiness.enter(.draining, exitBy: deadline + options.cancelGrace + Self.finalisation)
            releaseReserve(reason)
            host.drain.begin(deadlineMicros: WallClock.system.now() + micros(options.drainTimeout))
            logger.notice("draining (\(reason)): intake stopped, \(inflight.count) job(s) have \(milliseconds(options.drainTimeout)) to finish")
        case (.immediate(let reason), _), (.drain(let reason), .draining):
            if case .stopping = mode { return }
            releaseReserve(reason)
            host.drain.begin(deadlineMicros: WallClock.system.now())
            cancelAll(.drain(reason))
            let grace = min(options.cancelGrace, .milliseconds(500))
            mode = .stopping(graceEnd: now + grace, reason: reason)
            readiness.enter(.stopping, exitBy: now + grace + Self.finalisation)
            logger.notice("stopping now (\(reason)): \(inflight.count) job(s) cancelled")
        default:
            return
        }
        stopChanged = true
        waker.wake()
    }

    /// Looks for work now (jobs this process made claimable, e.g. by recovering a dead peer's).
    public func nudge() {
        nudged = true
        waker.wake()
    }

    /// Cancels the running jobs an operator asked to cancel.
    public func cancelRequested(_ ids: [Int64]) {
        for id in ids {
            if let index = reserve.firstIndex(where: { $0.id == id }) {  // claimed ahead, not started: never start it
                let job = reserve.remove(at: index)
                ended.append((job, .cancelled(reason: "by operator"), .now))
                logger.notice("job \(id) \(job.handler): cancelled by an operator before it started")
                continue
            }
            guard var running = inflight[id], running.cancelReason == nil else { continue }
            running.cancelReason = .operatorRequest
            inflight[id] = running
            running.execution.cancel()
            logger.notice("job \(id) \(running.job.handler): cancel requested by an operator")
        }
    }

    /// What the process may still need after the grace to commit what is left and exit, as told to supervisors.
    static let finalisation = Duration.seconds(1)

    /// A short line for supervisors (sd_notify's STATUS): the mode, slots in use and jobs finished.
    public func summary() -> String {
        "\(mode.name): \(inflight.count) of \(options.concurrency) running, \(outcomes[.completed, default: 0]) completed"
    }

    /// One line about what the worker is doing (USR1).
    public func status() -> String {
        let jobs = inflight.values.sorted { $0.job.id < $1.job.id }
            .map { "\($0.job.id) \($0.job.handler) \(milliseconds(ContinuousClock.now - $0.started))" }
        return "status: \(mode.name), \(inflight.count) of \(options.concurrency) running [\(jobs.joined(separator: "; "))], \(reserve.count) claimed ahead; \(report())"
    }

    /// What this worker did: jobs claimed, outcomes by state, commits. The last line a worker logs.
    public func report() -> String {
        let order: [JobState] = [.completed, .retrying, .dead, .cancelled, .interrupted]
        let recorded = order.compactMap { state in outcomes[state].map { "\($0) \(state.rawValue)" } }
        return "\(claimedCount) claimed, \(recorded.isEmpty ? "no outcome recorded" : recorded.joined(separator: ", ")) in \(rounds) round(s)"
    }

    /// The plugins running jobs now, with their jobs (`c-fixture: job 3, 4`), for naming a plugin that misbehaved.
    public func runningPlugins() -> String {
        Dictionary(grouping: inflight.values, by: \.execution.pluginName).sorted { $0.key < $1.key }
            .map { plugin, runs in "\(plugin): job \(runs.map { String($0.job.id) }.sorted().joined(separator: ", "))" }
            .joined(separator: "; ")
    }

    /// Logs once per handler that queued jobs wait for a handler no loaded plugin provides.
    public func reportMissingHandlers(_ handlers: [String]) {
        for handler in handlers where !missingReported.contains(handler) {
            missingReported.insert(handler)
            logger.warning("jobs for handler '\(handler)' stay queued: no loaded plugin provides it")
        }
    }

    // MARK: - The loop's steps

    private func exchange() async throws -> Int {
        let batch = takeEnded()
        let free = suspect == nil ? options.concurrency - inflight.count : 0
        let plan = reservePlan
        var request = ClaimRequest(
            worker: worker, limit: max(0, free - reserve.count),  // for the free slots: any handler
            queues: options.queues, handlers: handlers, plugins: stamps,
            ids: options.onlyJobs.map { Array($0) }, isolateSuspects: true,
            busy: !inflight.isEmpty || !reserve.isEmpty)
        request.ahead = max(0, plan.count - max(0, reserve.count - free))  // for the reserve: short jobs only
        request.aheadHandlers = plan.handlers
        // While the round commits (an fsync), jobs claimed ahead keep starting as slots free up: the next round
        // then carries what ended meanwhile, so the commits and the jobs overlap instead of taking turns.
        let committed = Flag()
        rounds += 1
        let began = ContinuousClock.now
        async let round = Self.commit(journal, batch.map { ($0.job.id, $0.outcome) }, request, committed, waker)
        while !committed.isSet {
            await waker.wait()  // the commit wakes it when it ends
            collectArrivals()
        }
        let (results, jobs) = try await round
        sizer.committed(seconds: seconds(ContinuousClock.now - began))
        log(batch, results)
        if !jobs.isEmpty { FaultInjection.point("after-claim") }
        if let first = jobs.first, first.crashes > 0, first.state == .running, jobs.count == 1, request.isolateSuspects {
            suspect = first.id
            logger.notice("job \(first.id) \(first.handler): a worker died under it \(first.crashes) time(s); running it alone")
        }
        reserve += jobs
        if let stopped = mode.stopReason {
            releaseReserve(stopped)  // a stop came while the round committed: give its claims back at once
        }
        try startReserved()
        releaseNoLongerShort()
        return jobs.count
    }

    /// Gives back claimed-ahead jobs whose handler is no longer short enough to be claimed ahead (its jobs got
    /// longer): held here they would wait for a slot that an idle peer could give them sooner.
    private func releaseNoLongerShort() {
        guard suspect == nil, !reserve.isEmpty, let short = reservePlan.handlers.map(Set.init) else { return }
        let slow = reserve.filter { !short.contains($0.handler) }
        guard !slow.isEmpty else { return }
        reserve.removeAll { !short.contains($0.handler) }
        for job in slow {
            ended.append((job, .interrupted(reason: "given back unstarted: its handler's jobs now take too long to claim ahead"), .now))
        }
        logger.info("gave back \(slow.count) claimed-ahead job(s) whose handler's jobs now take longer")
    }

    private nonisolated static func commit(
        _ journal: Journal, _ finished: [(job: Int64, outcome: JobOutcome)], _ request: ClaimRequest, _ committed: Flag, _ waker: Waker
    ) async throws -> (finished: [Result<JobState, JournalError>], claimed: [Job]) {
        defer {
            committed.set()
            waker.wake()
        }
        return try await journal.finishAndClaim(finished: finished, claim: request)
    }

    /// Starts claimed jobs while slots are free. Runs whenever a job ends, so a slot is refilled at once, while
    /// the commit of what ended is still to come.
    private func startReserved() throws {
        while mode == .running, inflight.count < options.concurrency, !reserve.isEmpty {
            try start(reserve.removeFirst())
        }
    }

    /// Gives back claimed jobs that never started (a drain or quiet began): interrupted, attempt returned.
    private func releaseReserve(_ reason: String) {
        for job in reserve {
            ended.append((job, .interrupted(reason: "\(reason): not started yet"), .now))
        }
        reserve.removeAll()
    }

    private func start(_ job: Job) throws {
        let verb = job.checkpoint != nil ? "resumed from its checkpoint" : "started"
        logger.info("job \(job.id) \(job.handler) \(verb) (attempt \(job.attempts) of \(job.maxAttempts))", metadata: ["job": "\(job.id)"])
        let arrivals = self.arrivals
        let waker = self.waker
        let id = job.id
        let execution = try host.start(job) { outcome in
            // On the plugin's thread: hand the outcome over without a task or an actor hop per job.
            arrivals.append(id, outcome)
            waker.wake()
        }
        inflight[job.id] = Running(job: job, execution: execution, started: .now, cancelReason: nil)
        claimedCount += 1
        metrics.count(.started, job)
    }

    /// Moves the outcomes plugins reported into `ended`.
    private func collectArrivals() {
        for (id, outcome) in arrivals.take() {
            jobEnded(id, outcome)
        }
        do {
            try startReserved()
        } catch {
            logger.error("cannot start a claimed job: \(error)")
        }
    }

    /// What to hold claimed ahead now: nothing while a suspect runs alone.
    private var reservePlan: ReservePlan {
        suspect == nil ? sizer.plan(options.prefetch, concurrency: options.concurrency) : .none
    }

    private func jobEnded(_ id: Int64, _ outcome: PluginOutcome) {
        guard let running = inflight.removeValue(forKey: id) else { return }  // already recorded as abandoned
        sizer.jobRan(running.job.handler, seconds: seconds(ContinuousClock.now - running.started))
        if suspect == id { suspect = nil }
        running.execution.release()
        let recorded: JobOutcome
        switch outcome {
        case .completed:
            recorded = .completed
        case .failed(let message, let permanent):
            recorded = .failed(error: message, retryable: !permanent)
        case .refused(let status):
            recorded = .failed(error: "the plugin refused to start the job (status \(status))", retryable: true)
        case .cancelled:
            switch running.cancelReason {
            case .drain(let reason): recorded = .interrupted(reason: reason)
            case .operatorRequest: recorded = .cancelled(reason: "by operator")
            case nil: recorded = .failed(error: "the handler cancelled itself", retryable: true)
            }
        }
        if ended.isEmpty { endedSince = .now }
        ended.append((running.job, recorded, running.started))
    }

    private func takeEnded() -> [(job: Job, outcome: JobOutcome, started: ContinuousClock.Instant)] {
        let batch = ended
        ended.removeAll()
        endedSince = nil
        if !batch.isEmpty {
            FaultInjection.point(mode == .running || mode == .quiet ? "before-commit" : "drain-finalize")
        }
        return batch
    }

    private func commitEnded() async throws {
        guard !ended.isEmpty else { return }
        let batch = takeEnded()
        log(batch, try await journal.finish(batch: batch.map { ($0.job.id, $0.outcome) }, worker: worker))
    }

    private func log(
        _ batch: [(job: Job, outcome: JobOutcome, started: ContinuousClock.Instant)], _ results: [Result<JobState, JournalError>]
    ) {
        for (item, result) in zip(batch, results) {
            let job = item.job
            let elapsed = ContinuousClock.now - item.started
            switch result {
            case .success(let state):
                outcomes[state, default: 0] += 1
                metrics.ran(job, for: elapsed)
                metrics.count(Self.counted(item.outcome), job)
                logger.info("job \(job.id) \(job.handler) running -> \(state.rawValue) after \(milliseconds(elapsed))\(Self.detail(item.outcome))",
                            metadata: ["job": "\(job.id)"])
            case .failure(let error):
                logger.warning("job \(job.id) \(job.handler): result not recorded: \(error)", metadata: ["job": "\(job.id)"])
            }
        }
    }

    private static func counted(_ outcome: JobOutcome) -> JobMetrics.Event {
        switch outcome {
        case .completed: .completed
        case .failed: .failed
        case .interrupted: .interrupted
        case .cancelled: .cancelled
        }
    }

    private static func detail(_ outcome: JobOutcome) -> String {
        switch outcome {
        case .completed: ""
        case .failed(let error, _): ": \(error)"
        case .interrupted(let reason), .cancelled(let reason): ": \(reason)"
        }
    }

    private func cancelAll(_ reason: CancelReason) {
        for (id, var running) in inflight where running.cancelReason == nil {
            running.cancelReason = reason
            inflight[id] = running
            running.execution.cancel()
        }
    }

    /// Jobs that did not return within the grace: recorded interrupted now; their threads die with the process.
    private func abandonRunning(reason: String) {
        for (_, running) in inflight.sorted(by: { $0.key < $1.key }) {
            logger.warning("job \(running.job.id) \(running.job.handler) did not stop within the grace period")
            ended.append((running.job, .interrupted(reason: "\(reason); the handler did not stop in time"), running.started))
        }
        inflight.removeAll()
    }

    /// Whether another process committed since the last look, or a scheduled job is due.
    private func somethingNew() async throws -> Bool {
        let version = try await journal.dataVersion()
        defer { lastDataVersion = version }
        if version != lastDataVersion {
            nextRunAt = try await journal.nextRunAt()
            return true
        }
        if let due = nextRunAt, due <= WallClock.system.now() {
            nextRunAt = try await journal.nextRunAt()
            return true
        }
        return false
    }

    /// Whether nothing this worker can run is left (`exitWhenIdle`). Jobs of handlers it has not loaded do not
    /// keep it alive; when some of them wait, `stranded` names them and the worker ends with exit 78.
    private func isIdle() async throws -> Bool {
        guard ended.isEmpty else { return false }
        if let only = options.onlyJobs {
            return try await journal.unfinishedCount(of: Array(only)) == 0
        }
        guard try await journal.activeJobCount() > 0 else { return true }
        let active = try await journal.activeJobsByHandler(queues: options.queues)
        let loaded = Set(handlers)
        if active.contains(where: { loaded.contains($0.handler) }) { return false }
        let waiting = active.filter { $0.waiting > 0 }
        if !waiting.isEmpty {
            let names = waiting.map { "'\($0.handler)' (\($0.waiting))" }.joined(separator: ", ")
            stranded = WorkerError(
                .config,
                "nothing left to run, but \(waiting.reduce(0) { $0 + $1.waiting }) job(s) wait for handlers no loaded plugin provides: \(names); load the plugins that provide them, or cancel those jobs")
        }
        return true
    }

    /// Whether the idle loop is woken by other processes' commits (the watch armed); false: it polls instead.
    private func watchForPeerCommits() -> Bool {
        guard let watch = peerCommits else { return false }
        if watch.arm() { return true }
        logger.notice("cannot watch \(watch.path) for other processes' commits: looking every \(options.pollInterval) while idle")
        peerCommits = nil
        return false
    }

    /// Busy or stopping: its own commits must not wake the loop; writes made meanwhile are looked for over the
    /// settling series once it is idle again.
    private func stopWatchingForPeerCommits() {
        peerCommits?.disarm()
        settleGap = .milliseconds(1)
    }

    /// Waits for a job to end, a stop request, or the next poll; returns whether a claim is worth trying.
    /// When a job ends while others run, waits up to `groupCommitWindow` more so that the outcomes of jobs ending
    /// together are committed (and their slots refilled) in one transaction.
    private func waitForWork() async -> Bool {
        var timeout: Duration
        let idle = mode == .running && inflight.isEmpty && ended.isEmpty && !nudged && !stopChanged && watchForPeerCommits()
        if !idle { stopWatchingForPeerCommits() }
        switch mode {
        case .running where idle:
            // Idle (nothing to commit either): the loop looks at `data_version` after each wait. The watch fires
            // as a commit is written, which readers see only once its fsync is done: after a write, and after
            // being busy (writes then went unwatched), the looks come 1, 2, 4 … 256 ms apart; then only a new
            // write, the recheck or a due time ends the wait.
            if peerCommits?.takeFired() == true { settleGap = .milliseconds(1) }
            timeout = settleGap ?? options.idleRecheck
            if let gap = settleGap { settleGap = gap < .milliseconds(256) ? gap * 2 : nil }
            if let due = nextRunAt {  // a scheduled or retrying job starts on time
                timeout = min(timeout, .microseconds(max(0, due - WallClock.system.now())))
            }
        case .running: timeout = inflight.isEmpty ? options.pollInterval : .milliseconds(100)
        case .quiet: timeout = .milliseconds(100)
        case .draining(let deadline, _): timeout = max(.zero, min(deadline - .now, .milliseconds(100)))
        case .stopping(let graceEnd, _): timeout = max(.zero, min(graceEnd - .now, .milliseconds(50)))
        }
        collectArrivals()
        let before = ended.count
        if stopChanged {
            stopChanged = false
            return false  // a stop came: the loop acts on it now
        }
        if mode != .running || (ended.isEmpty && !nudged) {  // else work came while the last round committed
            await waker.wait(timeout: timeout)
            collectArrivals()
        }
        if mode == .running, let since = endedSince, !inflight.isEmpty {
            // Jobs ending together share one commit: gather until the oldest outcome waited `groupCommitWindow`
            // (outcomes gathered during the last commit waited long enough already).
            let windowEnd = since + options.groupCommitWindow
            while mode == .running, !inflight.isEmpty, ContinuousClock.now < windowEnd {
                await waker.wait(timeout: windowEnd - .now)
                collectArrivals()
            }
        }
        defer { nudged = false }
        return nudged || ended.count > before
    }
}

extension Dispatcher.Mode {
    /// Why intake stopped, when it did.
    var stopReason: String? {
        switch self {
        case .running: nil
        case .quiet: "quiet"
        case .draining(_, let reason), .stopping(_, let reason): reason
        }
    }

    var name: String {
        switch self {
        case .running: "running"
        case .quiet: "quiet"
        case .draining: "draining"
        case .stopping: "stopping"
        }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func micros(_ duration: Duration) -> Micros {
    duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
}

/// A duration for log lines: "2.6 ms", "1450 ms".
func milliseconds(_ duration: Duration) -> String {
    let ms = Double(micros(duration)) / 1000
    return ms < 100 ? String(format: "%.1f ms", ms) : String(format: "%.0f ms", ms)
}

/// A one-way switch, set from another task.
final class Flag: Sendable {
    private let value = Mutex(false)

    var isSet: Bool { value.withLock { $0 } }

    func set() { value.withLock { $0 = true } }
}

/// Outcomes handed over by plugin threads, taken by the dispatcher loop.
final class Arrivals: Sendable {
    private let list = Mutex<[(Int64, PluginOutcome)]>([])

    func append(_ id: Int64, _ outcome: PluginOutcome) {
        list.withLock { $0.append((id, outcome)) }
    }

    func take() -> [(Int64, PluginOutcome)] {
        list.withLock { list in
            defer { list.removeAll(keepingCapacity: true) }
            return list
        }
    }
}
