import WorkerStore
import Logging
import PluginHost

/// The worker loop: claims jobs up to the concurrency, hands them to their plugins, and records how they end
/// in group commits. Drains on request. Its parts, each testable alone: `DrainState` (stop requests and the one
/// drain deadline), `Reserve` (jobs claimed ahead, the suspect), `IdleWaiter` (waiting without spinning) and
/// `OutcomeBatch` / `OutcomeLedger` (what ended, what was recorded). State lives in this actor; jobs run on
/// their own executors.
public actor Dispatcher {
    struct Running {
        let job: Job
        let execution: JobExecution
        let started: ContinuousClock.Instant
        /// Why it was cancelled, when it was: decides interrupted (drain) or cancelled (operator).
        var cancelReason: OutcomeBatch.CancelReason?
    }

    let journal: any JobStore
    /// The loaded plugins, which run the jobs.
    let plugins: PluginSet
    /// Where the plugins' checkpoints and steps go: the store, as this worker.
    let services: StoreJobServices
    /// The loaded handlers and their plugins, fixed once the plugins are loaded (read on every claim).
    let handlers: [String]
    let stamps: [String: PluginStamp]
    let options: WorkerOptions
    let logger: Logger
    let clock: RuntimeClock
    /// Where the worker is in its life, for supervisors: stop requests move it on.
    public let readiness: Readiness
    /// This worker's id in the journal.
    public let worker: String
    private var drain: DrainState
    private var reserve: Reserve
    private var idle: IdleWaiter
    private var batch = OutcomeBatch()
    private var ledger: OutcomeLedger
    private var inflight: [Int64: Running] = [:]
    /// The deadlines of the running jobs that have a timeout.
    private var timeouts = JobTimeouts()
    /// Cancels asked for jobs this worker does not know (yet): the round that claimed them may still be on its
    /// way back (its jobs join the reserve only when it returns, and the actor serves calls meanwhile). The round
    /// applies them to what it claimed; the rest were not this worker's.
    private var cancelsAwaitingRound: Set<Int64> = []
    private var missingReported: Set<String> = []
    /// Outcomes reported by plugins, waiting for the loop to take them.
    private let arrivals = Arrivals()
    private var nudged = false
    /// A stop request came since the loop last waited (its wake-up may have been taken by a round's commit).
    private var stopChanged = false
    private let waker = Waker()
    /// Why an `exitWhenIdle` worker ended with jobs it cannot run still waiting (exit 78), or nil.
    public private(set) var stranded: WorkerError?

    /// A dispatcher for `worker`, registered in `journal`, running jobs through `plugins`.
    public init(
        journal: any JobStore, plugins: PluginSet, worker: String, options: WorkerOptions, logger: Logger,
        readiness: Readiness = Readiness(), metrics: JobMetrics = .disabled, clock: RuntimeClock = .system
    ) {
        self.journal = journal
        self.plugins = plugins
        services = StoreJobServices(store: journal, worker: worker)
        handlers = plugins.handlers
        stamps = plugins.identities.mapValues(PluginStamp.init)
        self.worker = worker
        self.options = options
        self.logger = logger
        self.readiness = readiness
        self.clock = clock
        drain = DrainState(drainTimeout: options.drainTimeout, cancelGrace: options.cancelGrace)
        reserve = Reserve(prefetch: options.prefetch, concurrency: options.concurrency)
        idle = IdleWaiter(peerCommits: nil, pollInterval: options.pollInterval, idleRecheck: options.idleRecheck)
        ledger = OutcomeLedger(logger: logger, metrics: metrics)
    }

    /// Commits of the loop (finish-and-claim rounds).
    public var rounds: Int { ledger.rounds }

    /// Runs until a drain completes, or (with `exitWhenIdle`) until no job is left. Every job this worker
    /// claimed is recorded as completed, failed, cancelled or interrupted before it returns.
    public func run() async throws {
        let waker = self.waker
        let watch = journal.commitWatch { waker.wake() }
        if watch == nil {
            logger.notice("cannot watch for other processes' commits: looking for them every \(options.pollInterval) while idle")
        }
        idle = IdleWaiter(peerCommits: watch, pollInterval: options.pollInterval, idleRecheck: options.idleRecheck)
        defer { idle.close() }
        var shouldClaim = true
        loop: while true {
            collectArrivals()
            enforceTimeouts()
            if !drain.isRunning { try await commitEnded() }
            if drain.isRunning {
                let free = reserve.wanted(running: inflight.count)
                var worthClaiming = (shouldClaim && free > 0) || !batch.isEmpty
                if !worthClaiming && free > 0 { worthClaiming = try await somethingNew() }
                if worthClaiming {
                    // One transaction records what ended and claims what fits in the freed slots (and, when nothing
                    // is ready, says when something will be).
                    try await exchange()
                }
                if options.exitWhenIdle, inflight.isEmpty, reserve.isEmpty, try await isIdle() { break loop }
            } else if drain.mode != .quiet {
                if inflight.isEmpty { break loop }
                let now = clock.now()
                if let change = drain.passDeadline(at: now) {
                    apply(change)
                    continue loop
                }
                if let reason = drain.graceOver(at: now) {
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
        guard let change = drain.request(request, at: clock.now()) else { return }
        apply(change)
        switch request {
        case .quiet:
            logger.notice("quiet: intake stopped, \(inflight.count) job(s) keep running")
        case .drain(let reason) where change.cancel == nil:
            logger.notice("draining (\(reason)): intake stopped, \(inflight.count) job(s) have \(milliseconds(options.drainTimeout)) to finish")
        case .drain(let reason), .immediate(let reason):
            logger.notice("stopping now (\(reason)): \(inflight.count) job(s) cancelled")
        }
        stopChanged = true
        waker.wake()
    }

    /// Drains unless a stop is already under way: for a shutdown that did not come from a signal (the service
    /// group shutting down), which must not cut short a drain in progress.
    public func drainUnlessStopping(reason: String) {
        guard drain.isRunning || drain.mode == .quiet else { return }
        stop(.drain(reason: reason))
    }

    /// Looks for work now (jobs this process made claimable, e.g. by recovering a dead peer's).
    public func nudge() {
        nudged = true
        waker.wake()
    }

    /// Cancels the running jobs an operator asked to cancel.
    public func cancelRequested(_ ids: [Int64]) {
        for id in ids {
            if let job = reserve.remove(id) {  // claimed ahead, not started: never start it
                batch.addUnstarted(job, .cancelled(reason: "by operator"), at: clock.now())
                logger.notice("job \(id) \(job.handler): cancelled by an operator before it started")
                continue
            }
            guard var running = inflight[id] else {
                cancelsAwaitingRound.insert(id)
                continue
            }
            guard running.cancelReason == nil else { continue }
            running.cancelReason = .operatorRequest
            inflight[id] = running
            running.execution.cancel()
            logger.notice("job \(id) \(running.job.handler): cancel requested by an operator")
        }
    }

    /// A short line for supervisors (sd_notify's STATUS): the mode, slots in use and jobs finished.
    public func summary() -> String {
        "\(drain.name): \(inflight.count) of \(options.concurrency) running, \(ledger.recorded[.completed, default: 0]) completed"
    }

    /// One line about what the worker is doing (USR1).
    public func status() -> String {
        let now = clock.now()
        let jobs = inflight.values.sorted { $0.job.id < $1.job.id }
            .map { "\($0.job.id) \($0.job.handler) \(milliseconds(now - $0.started))" }
        return "status: \(drain.name), \(inflight.count) of \(options.concurrency) running [\(jobs.joined(separator: "; "))], \(reserve.count) claimed ahead; \(report())"
    }

    /// What this worker did: jobs claimed, outcomes by state, commits. The last line a worker logs.
    public func report() -> String { ledger.report }

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

    /// Carries out a change of the drain state: supervisors, plugins, the reserve, the jobs in flight.
    private func apply(_ change: DrainState.Change) {
        readiness.enter(change.phase, exitBy: change.exitBy)
        if let reason = change.release { releaseReserve(reason) }
        if let deadline = change.pluginDeadline {
            plugins.drain.begin(deadlineMicros: clock.wallTime(of: deadline))  // the one deadline, converted once
        }
        if let reason = change.cancel { cancelAll(.drain(reason)) }
    }

    private func exchange() async throws {
        let ended = takeEnded()
        let sizes = reserve.claimSizes(running: inflight.count)
        var request = ClaimRequest(
            worker: worker, limit: sizes.now,  // for the free slots: any handler
            queues: options.queues, handlers: handlers, plugins: stamps,
            ids: options.onlyJobs.map { Array($0) }, isolateSuspects: true,
            busy: !inflight.isEmpty || !reserve.isEmpty)
        request.ahead = sizes.ahead  // for the reserve: short jobs only
        request.aheadHandlers = sizes.aheadHandlers
        request.suspectCrashes = Self.suspectCrashes(maxCrashes: options.maxCrashes)
        // While the round commits (an fsync), jobs claimed ahead keep starting as slots free up: the next round
        // then carries what ended meanwhile, so the commits and the jobs overlap instead of taking turns.
        let committed = Flag()
        let asked = request.limit + request.ahead > 0  // for jobs: a claim that finds none says when to look again
        let isolating = request.isolateSuspects ? request.suspectCrashes : nil
        ledger.roundBegan()
        let began = clock.now()
        async let round = Self.commit(journal, ended.map { ($0.job.id, $0.outcome) }, request, committed, waker)
        while !committed.isSet {
            await waker.wait()  // the commit wakes it when it ends
            collectArrivals()
        }
        let outcome = try await round
        let (results, jobs) = (outcome.finished, outcome.claimed)
        if jobs.isEmpty && asked { idle.nextRunAt = outcome.nextRunAt }
        reserve.committed(seconds: seconds(clock.now() - began))
        ledger.record(ended, results, at: clock.now())
        if !jobs.isEmpty { FaultInjection.point("after-claim") }
        if let suspect = reserve.add(jobs, suspectCrashes: isolating) {
            logger.notice("job \(suspect.id) \(suspect.handler): a worker died under it \(suspect.crashes) time(s); running it alone")
        }
        let early = cancelsAwaitingRound
        cancelsAwaitingRound = []
        if !early.isEmpty { cancelRequested(jobs.map(\.id).filter(early.contains)) }
        if let stopped = drain.stopReason {
            releaseReserve(stopped)  // a stop came while the round committed: give its claims back at once
        }
        try startReserved()
        let slow = reserve.releaseNoLongerShort()
        let now = clock.now()
        for job in slow {
            batch.addUnstarted(job, .interrupted(reason: "given back unstarted: its handler's jobs now take too long to claim ahead"), at: now)
        }
        if !slow.isEmpty { logger.info("gave back \(slow.count) claimed-ahead job(s) whose handler's jobs now take longer") }
    }

    /// The deaths that make a job a suspect (`ClaimRequest.suspectCrashes`): one fewer than end it `dead`.
    static func suspectCrashes(maxCrashes: Int) -> Int {
        max(1, maxCrashes - 1)
    }

    private nonisolated static func commit(
        _ journal: any JobStore, _ finished: [(job: Int64, outcome: JobOutcome)], _ request: ClaimRequest, _ committed: Flag, _ waker: Waker
    ) async throws -> RoundResult {
        defer {
            committed.set()
            waker.wake()
        }
        return try await journal.finishAndClaim(finished: finished, claim: request)
    }

    /// Starts claimed jobs while slots are free. Runs whenever a job ends, so a slot is refilled at once, while
    /// the commit of what ended is still to come.
    private func startReserved() throws {
        while drain.isRunning, inflight.count < options.concurrency, let job = reserve.next() {
            try start(job)
        }
    }

    /// Gives back claimed jobs that never started (a drain or quiet began): interrupted, attempt returned.
    private func releaseReserve(_ reason: String) {
        let now = clock.now()
        for job in reserve.releaseAll() {
            batch.addUnstarted(job, .interrupted(reason: "\(reason): not started yet"), at: now)
        }
    }

    private func start(_ job: Job) throws {
        let verb = job.checkpoint != nil ? "resumed from its checkpoint" : "started"
        logger.info("job \(job.id) \(job.handler) \(verb) (attempt \(job.attempts) of \(job.maxAttempts))", metadata: ["job": "\(job.id)"])
        let arrivals = self.arrivals
        let waker = self.waker
        let id = job.id
        // A job with a timeout runs behind a fence, so that a run the worker gives up on cannot touch the job
        // afterwards; the others share the worker's services and cost nothing more.
        let fence = job.effectiveTimeout.map { _ in JobFence() }
        let services: any JobServices = fence.map { FencedJobServices(base: self.services, fence: $0) } ?? self.services
        let execution = try plugins.start(HostedJob(job), services: services) { outcome in
            // On the plugin's thread: hand the outcome over without a task or an actor hop per job.
            if fence?.isRevoked == true { return }  // given up on: the job was recorded as timed out
            arrivals.append(id, outcome)
            waker.wake()
        }
        let now = clock.now()
        if let limit = job.effectiveTimeout, let fence { timeouts.started(id, limit: limit, at: now, fence: fence) }
        inflight[job.id] = Running(job: job, execution: execution, started: now, cancelReason: nil)
        ledger.started(job)
    }

    /// Moves the outcomes plugins reported into the batch, and refills the freed slots.
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

    private func jobEnded(_ id: Int64, _ outcome: PluginOutcome) {
        guard let running = inflight.removeValue(forKey: id) else { return }  // already recorded as abandoned
        timeouts.ended(id)
        let now = clock.now()
        reserve.jobEnded(id, handler: running.job.handler, seconds: seconds(now - running.started))
        running.execution.release()
        batch.add(running.job, OutcomeBatch.outcome(of: outcome, cancelled: running.cancelReason), started: running.started, at: now)
    }

    private func takeEnded() -> [EndedJob] {
        let ended = batch.take()
        if !ended.isEmpty {
            FaultInjection.point(drain.isRunning || drain.mode == .quiet ? "before-commit" : "drain-finalize")
        }
        return ended
    }

    private func commitEnded() async throws {
        guard !batch.isEmpty else { return }
        let ended = takeEnded()
        let results = try await journal.finish(batch: ended.map { ($0.job.id, $0.outcome) }, worker: worker)
        ledger.record(ended, results, at: clock.now())
    }

    private func cancelAll(_ reason: OutcomeBatch.CancelReason) {
        for (id, var running) in inflight where running.cancelReason == nil {
            running.cancelReason = reason
            inflight[id] = running
            running.execution.cancel()
        }
    }

    /// Cancels the jobs past their timeout (they get `cancelGrace` to checkpoint and return, as in a drain), and
    /// gives up on those whose grace ran out: recorded failed `timed out` now (the attempt counts: it retries with
    /// backoff, or ends dead), their slots freed. Such a handler's thread keeps running until it returns by
    /// itself; its fence drops whatever it does then.
    private func enforceTimeouts() {
        guard !timeouts.entries.isEmpty else { return }
        let now = clock.now()
        for (id, limit) in timeouts.due(at: now, grace: options.cancelGrace) {
            guard var running = inflight[id] else { continue }
            guard running.cancelReason == nil else { continue }  // a drain or an operator cancelled it first
            running.cancelReason = .timedOut(limit)
            inflight[id] = running
            running.execution.cancel()
            ledger.metrics.count(.timedOut, running.job)
            logger.notice("job \(id) \(running.job.handler): \(OutcomeBatch.timedOutError(limit)); cancelled, \(milliseconds(options.cancelGrace)) to stop")
        }
        for (id, limit) in timeouts.overdue(at: now) {
            guard let running = inflight.removeValue(forKey: id) else { continue }
            reserve.jobEnded(id, handler: running.job.handler, seconds: seconds(now - running.started))
            logger.warning("job \(id) \(running.job.handler): did not stop within \(milliseconds(options.cancelGrace)) of its timeout; recorded as timed out, its thread abandoned")
            batch.add(
                running.job, .failed(error: OutcomeBatch.timedOutError(limit) + "; the handler did not stop within the grace", retryable: true),
                started: running.started, at: now)
        }
    }

    /// Jobs that did not return within the grace: recorded interrupted now; their threads die with the process.
    private func abandonRunning(reason: String) {
        let now = clock.now()
        for (_, running) in inflight.sorted(by: { $0.key < $1.key }) {
            logger.warning("job \(running.job.id) \(running.job.handler) did not stop within the grace period")
            batch.add(running.job, .interrupted(reason: "\(reason); the handler did not stop in time"), started: running.started, at: now)
        }
        inflight.removeAll()
    }

    /// Whether another process committed since the last look, or a scheduled job is due.
    private func somethingNew() async throws -> Bool {
        // A claim round follows at once, and tells `nextRunAt` when it finds nothing (a look-up here first cost a
        // round trip per wake-up on PostgreSQL).
        let version = try await journal.dataVersion()
        return idle.somethingNew(dataVersion: version, now: clock.wall.now())
    }

    /// Whether nothing this worker can run is left (`exitWhenIdle`). Jobs of handlers it has not loaded do not
    /// keep it alive; when some of them wait, `stranded` names them and the worker ends with exit 78.
    private func isIdle() async throws -> Bool {
        guard batch.isEmpty else { return false }
        if let only = options.onlyJobs {
            return try await journal.unfinishedCount(of: Array(only)) == 0
        }
        guard try await journal.activeJobCount() > 0 else { return true }
        var queues = options.queues
        let paused = Set(try await journal.queueSettings().filter { $0.pausedAt != nil }.map(\.name))
        if !paused.isEmpty {
            // The jobs of a paused queue wait for its resume, not for this worker: they do not keep it running.
            let candidates = queues.isEmpty ? Set(try await journal.depth().map(\.queue)) : Set(queues)
            queues = candidates.subtracting(paused).sorted()
            if queues.isEmpty { return true }
        }
        let active = try await journal.activeJobsByHandler(queues: queues)
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

    /// Waits for a job to end, a stop request, or the next poll; returns whether a claim is worth trying.
    /// When a job ends while others run, waits up to `groupCommitWindow` more so that the outcomes of jobs ending
    /// together are committed (and their slots refilled) in one transaction.
    private func waitForWork() async -> Bool {
        let idling = drain.isRunning && inflight.isEmpty && batch.isEmpty && !nudged && !stopChanged && idle.arm(logger: logger)
        // Busy with slots free: a watch that never hears this worker's own commits stays armed, so that a job
        // enqueued now starts now (else at the busy look below, up to 100 ms later).
        let listening = !idling && drain.isRunning && idle.hearsOthersOnly && reserve.wanted(running: inflight.count) > 0
            && idle.arm(logger: logger)
        if !idling && !listening { idle.disarm() }
        var timeout: Duration =
            if let limit = drain.waitLimit(at: clock.now()) { limit }
            else if idling { idle.idleTimeout(now: clock.wall.now()) }
            else { inflight.isEmpty ? options.pollInterval : .milliseconds(100) }
        if let next = timeouts.nextEvent { timeout = max(.zero, min(timeout, next - clock.now())) }
        collectArrivals()
        let before = batch.count
        if stopChanged {
            stopChanged = false
            return false  // a stop came: the loop acts on it now
        }
        if !drain.isRunning || (batch.isEmpty && !nudged) {  // else work came while the last round committed
            await waker.wait(timeout: timeout, clock: clock)
            collectArrivals()
        }
        if drain.isRunning, let since = batch.since, !inflight.isEmpty {
            // Jobs ending together share one commit: gather until the oldest outcome waited `groupCommitWindow`
            // (outcomes gathered during the last commit waited long enough already).
            let windowEnd = since + options.groupCommitWindow
            while drain.isRunning, !inflight.isEmpty, clock.now() < windowEnd {
                await waker.wait(timeout: windowEnd - clock.now(), clock: clock)
                collectArrivals()
            }
        }
        defer { nudged = false }
        return nudged || batch.count > before
    }
}
