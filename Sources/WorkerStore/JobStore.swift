import Foundation

/// The journal as the runtime, the command line and the admin endpoint use it, whatever engine keeps it: the one
/// seam between them and storage. The SQLite journal (`Journal`) is its first implementation; everything above
/// this protocol is written against it and never learns which engine it has.
///
/// Every change of a job is one transaction that updates the job and appends its journal event. Errors are
/// `JournalError`s, whose `exitClass` the command line maps to exit codes.
public protocol JobStore: Sendable {
    /// Where the store is (a file path, a URL without its password), for log lines.
    var location: String { get }

    // MARK: Workers: liveness and recovery

    /// Registers a live worker (claims require it) and takes what keeps it live for the store (a kernel lock, a
    /// session lock): a peer that sees the worker sees it live until it deregisters or its process dies.
    func register(_ worker: WorkerRegistration) async throws
    /// Records that `worker` lives.
    func heartbeat(worker: String) async throws
    /// Marks `worker` stopped and lets go of its liveness.
    func deregister(worker: String, reason: String) async throws
    /// Finds the workers whose process died (their liveness is gone, for certain) and takes back the jobs they
    /// held `running`, deciding liveness and recovery in one transaction: each job becomes `interrupted` (the
    /// attempt stays counted, a crash is recorded), `dead` once `maxCrashes` workers died under it, or `cancelled`
    /// when an operator had asked to cancel it. `recoverer` is the live worker doing it (nil: an operator).
    func recoverDeadWorkers(recoverer: String?, maxCrashes: Int) async throws -> [RecoveredWorker]
    /// Workers other than `except` that are dead for certain, with their pids when known.
    func deadWorkers(except: String?) async throws -> [(id: String, pid: Int32?)]
    /// Whether `worker` is registered and its process alive.
    func isLive(worker: String) async throws -> Bool
    /// How many registered workers are alive.
    func liveWorkerCount() async throws -> Int
    /// Those of `handlers` no worker has ever served here; nil when no worker has served any yet.
    func unservedHandlers(among handlers: [String]) async throws -> [String]?

    // MARK: Claims, outcomes, checkpoints, steps

    /// Records how the jobs in `finished` ended and claims new ones, in one transaction.
    func finishAndClaim(finished: [(job: Int64, outcome: JobOutcome)], claim: ClaimRequest) async throws -> RoundResult
    /// Records how the jobs in `batch`, held by `worker`, ended, in one transaction.
    func finish(batch: [(job: Int64, outcome: JobOutcome)], worker: String) async throws -> [Result<JobState, JournalError>]
    /// The running jobs of `worker` an operator asked to cancel.
    func cancelRequests(worker: String) async throws -> [Int64]
    /// Saves a job's checkpoint, blocking the calling thread until durable (for plugin threads).
    func checkpointBlocking(job id: Int64, worker: String, data: Data) throws
    /// Begins step `name`: its record when an earlier attempt completed it, else nil (it must run now).
    func beginStepBlocking(job id: Int64, worker: String, name: String) throws -> StepRecord?
    /// Records the result of step `name`, blocking until durable.
    func commitStepBlocking(job id: Int64, worker: String, name: String, result: Data) throws
    /// Records that this attempt's run of step `name` failed with `error` (cut to `StepRecord.errorLimit` bytes),
    /// blocking until durable. Refused unless the job is held by `worker` and this attempt began the step and did
    /// not complete it.
    func failStepBlocking(job id: Int64, worker: String, name: String, error: String) throws

    // MARK: What the worker loop asks while idle

    /// When the next job not yet due becomes due, if any.
    func nextRunAt() async throws -> Micros?
    /// A number that changes whenever another process commits: cheap to read, for an idle loop's looks.
    func dataVersion() async throws -> Int64
    /// A watch that calls `wake` when another process commits, for an idle loop to wait on instead of polling;
    /// nil when the store cannot offer one.
    func commitWatch(wake: @escaping @Sendable () -> Void) -> (any CommitWatch)?
    /// Calls `callback` after each enqueue made through this store object (the same process).
    func onNewWork(_ callback: @escaping @Sendable () -> Void)
    /// Why this process can no longer use the store safely, or nil: its files were replaced (SQLite, exit 74), or
    /// its worker lost the session that keeps it live (PostgreSQL, `unavailable`: exit 75, a peer recovers its
    /// jobs). A worker that gets an answer stops at once.
    func storageProblem() async -> JournalError?
    /// Jobs queued, running, retrying or interrupted.
    func activeJobCount() async throws -> Int
    /// Unfinished jobs by handler, in `queues` (empty: all).
    func activeJobsByHandler(queues: [String]) async throws -> [ActiveHandlerJobs]
    /// How many of `ids` are not finished.
    func unfinishedCount(of ids: [Int64]) async throws -> Int
    /// Handlers of waiting jobs that none of `loaded` provides.
    func waitingHandlers(notIn loaded: Set<String>) async throws -> [String]
    /// Waiting jobs per handler.
    func waitingByHandler() async throws -> [(handler: String, count: Int)]

    // MARK: Operators

    /// Enqueues one job and returns it (the existing one when its unique key is taken).
    func enqueue(_ job: NewJob) async throws -> (job: Job, created: Bool)
    /// Enqueues jobs in one transaction.
    func enqueue(batch jobs: [NewJob]) async throws -> [Enqueued]
    /// Moves a dead, cancelled or retrying job back to `queued` to run now, its event naming `origin` ("retried by
    /// dashboard (client 10.0.0.7)"; `retry(job:)`: "retried by operator").
    func retry(job id: Int64, by origin: ChangeOrigin) async throws -> Job
    /// Cancels a job not yet finished (a running one gets a cancel request), its event naming `origin` ("cancelled
    /// by ...").
    func cancel(job id: Int64, by origin: ChangeOrigin) async throws -> CancelResult
    /// Which jobs matching `filter` `change` would act on and which it would skip; changes nothing.
    func plan(_ change: BulkChange, _ filter: JobFilter) async throws -> BulkPlan
    /// Carries out `plan` in short transactions, each job checked again under the write lock (one that moved on
    /// meanwhile is skipped); `reason` goes into every job's event.
    func apply(_ plan: BulkPlan, reason: String, progress: (Int) -> Void) async throws -> BulkResult
    /// Deletes up to `limit` completed jobs that finished before `cutoff`; returns how many.
    func pruneCompleted(finishedBefore cutoff: Micros, limit: Int) async throws -> Int
    /// How many completed jobs finished before `cutoff`.
    func completedCount(finishedBefore cutoff: Micros) async throws -> Int

    // MARK: Queues

    /// Changes `queue`'s settings and returns them, in one transaction that records the change in `queue_events`
    /// when it changed anything (`pause`, `resume` and `set(queue:_:)` call it). Paused, no worker claims its jobs
    /// (interrupted ones included) until resumed; running jobs go on; enqueues are accepted; pausing a paused queue
    /// changes nothing. Limits are set or cleared field by field (`QueueChange`). A change that may free held-back
    /// jobs wakes idle workers. The audit row's `origin` names who asked (`edit(queue:_:)`: `operator`).
    func edit(queue: String, _ edit: QueueEdit, by origin: ChangeOrigin) async throws -> QueueSettings
    /// The settings of every queue an operator set something on: one cheap read, for a worker's looks.
    func queueSettings() async throws -> [QueueSettings]

    // MARK: Inspection

    func job(_ id: Int64) async throws -> Job
    func jobs(_ filter: JobFilter) async throws -> [Job]
    /// A page of the jobs `filter` selects, with the cursor of the next: keyset pagination, so a page costs its
    /// size, not its distance from the first.
    func jobPage(_ filter: JobFilter) async throws -> JobPage
    /// The journal history of a job, oldest first.
    func events(job id: Int64) async throws -> [JobEvent]
    func steps(job id: Int64) async throws -> [StepRecord]
    /// Jobs per state, every state present.
    func stats() async throws -> [JobState: Int]
    /// Jobs per queue and state, workers, the oldest queued job per queue.
    func overview() async throws -> Overview
    /// Unfinished and dead jobs per queue and state.
    func depth() async throws -> [QueueDepth]
    /// Per queue, seconds the oldest queued job has waited.
    func oldestQueuedAge() async throws -> [String: Double]
    /// Jobs per queue and state, exact, for every state but `completed` (scheduled, queued, running, retrying,
    /// interrupted, dead, cancelled; a state without jobs is absent, a queue without such jobs too). Each state is
    /// counted through its partial index, so the cost follows those jobs, not the finished history: with millions
    /// of completed jobs it stays as cheap as `depth()`, where `stats()` and `overview()` read every job. For the
    /// completed ones, `activity(since:)` tells how many attempts completed per minute over the last 7 days.
    func countsExceptCompleted() async throws -> [String: [JobState: Int]]
    /// Attempts completed and failed, and jobs interrupted, per minute from `since` (rounded down to its minute)
    /// to now, oldest first; minutes without any are left out.
    func activity(since: Micros) async throws -> [ActivityMinute]
    /// The live workers, then the newest of the stopped or dead ones, at most `limit` in all, each with the number
    /// of jobs it holds `running`.
    func workerSummaries(limit: Int) async throws -> [WorkerSummary]
    /// Integrity and consistency of the journal.
    func verify(maxFindings: Int) async throws -> VerifyReport
    /// The schema migrations applied, in order.
    func appliedMigrations() async throws -> [String]

    // MARK: Schedules

    /// Stores a new schedule (its first tick is the first after now), or with `replace` changes an existing one
    /// (keeping its history and last tick). `scheduleExists` when the name is taken and `replace` is false;
    /// `invalidArgument` for a bad cron expression, time zone or name.
    func addSchedule(_ definition: ScheduleDefinition, replace: Bool) async throws -> Schedule
    /// Every schedule, by name.
    func schedules() async throws -> [Schedule]
    /// One schedule with its `recent` newest events and its totals; `scheduleNotFound` when there is none.
    func schedule(named name: String, recent: Int) async throws -> ScheduleDetail
    /// Stops a schedule firing until resumed (ticks meanwhile get nothing).
    func pauseSchedule(_ name: String) async throws -> Schedule
    /// Lets a paused schedule fire again from its next tick after now.
    func resumeSchedule(_ name: String) async throws -> Schedule
    /// Deletes a schedule (its events and jobs stay).
    func removeSchedule(_ name: String) async throws
    /// Enqueues one job of the schedule now (recorded as `manual`, its reason "run by " and `origin`), whatever its
    /// ticks and pause.
    func runSchedule(_ name: String, by origin: ChangeOrigin) async throws -> Job
    /// Fires what is due: for each active schedule whose next tick has come, in one transaction, the plan of its
    /// due ticks (`ScheduleRules.plan`), a job per fired tick through the ordinary enqueue path, the tick records
    /// (unique per schedule and tick) and the schedule's new last tick, compared-and-set. Any number of workers may
    /// call it at once: each tick gets exactly one job. `worker` is recorded on the events. `onTimeWithin` is how
    /// long the caller has been ready to fire (a worker: since it opened intake): the due ticks at most that old
    /// (and at most `ScheduleRules.maxLateness`) are on time and fire whatever the policy; older ones, that no one
    /// decided, were missed while no worker ran (`.zero`: every due tick was missed).
    func fireDueSchedules(worker: String?, onTimeWithin: Duration) async throws -> ScheduleRound
}

/// Wakes an idle worker when another process commits (see `JobStore.commitWatch`). Armed only while the worker
/// waits idle, so its own commits cost nothing.
public protocol CommitWatch: AnyObject, Sendable, CustomStringConvertible {
    /// Starts watching; false when it cannot (the caller then polls).
    func arm() -> Bool
    /// Stops watching until armed again.
    func disarm()
    /// Whether it fired since the last call.
    func takeFired() -> Bool
    /// Whether it also fires on this process's own commits (SQLite's watch on the WAL file does; a notification
    /// channel that only producers write to does not). One that does not stays armed while the worker is busy with
    /// slots free, so that a new job starts at once instead of at the busy worker's next look. Default true.
    var hearsOwnCommits: Bool { get }
}

extension CommitWatch {
    public var hearsOwnCommits: Bool { true }
}

/// A dead worker and the jobs taken back from it.
public struct RecoveredWorker: Sendable {
    public let worker: String
    public let pid: Int32?
    /// Why its jobs were taken back ("worker ID (pid N) died"), as their events say.
    public let reason: String
    public let jobs: [Job]

    public init(worker: String, pid: Int32?, reason: String, jobs: [Job]) {
        self.worker = worker
        self.pid = pid
        self.reason = reason
        self.jobs = jobs
    }
}

extension JobStore {
    /// Every job the filter matches (default: the first 100).
    public func jobs() async throws -> [Job] { try await jobs(JobFilter()) }
    /// Integrity and consistency, with at most 1,000 findings.
    public func verify() async throws -> VerifyReport { try await verify(maxFindings: 1000) }
    /// Unfinished jobs by handler in every queue.
    public func activeJobsByHandler() async throws -> [ActiveHandlerJobs] { try await activeJobsByHandler(queues: []) }
    /// One schedule with its 50 newest events and its totals.
    public func schedule(named name: String) async throws -> ScheduleDetail {
        try await schedule(named: name, recent: ScheduleRules.recentEvents)
    }
    /// Moves a dead, cancelled or retrying job back to `queued` to run now ("retried by operator").
    public func retry(job id: Int64) async throws -> Job { try await retry(job: id, by: .operator) }
    /// Cancels a job not yet finished; a running one gets a cancel request ("cancelled by operator").
    public func cancel(job id: Int64) async throws -> CancelResult { try await cancel(job: id, by: .operator) }
    /// Changes `queue`'s settings, as the command line does (see `edit(queue:_:by:)`).
    public func edit(queue: String, _ edit: QueueEdit) async throws -> QueueSettings {
        try await self.edit(queue: queue, edit, by: .operator)
    }
    /// Enqueues one job of the schedule now ("run by operator"; see `runSchedule(_:by:)`).
    public func runSchedule(_ name: String) async throws -> Job { try await runSchedule(name, by: .operator) }
    /// Deletes up to 500 completed jobs that finished before `cutoff`.
    public func pruneCompleted(finishedBefore cutoff: Micros) async throws -> Int {
        try await pruneCompleted(finishedBefore: cutoff, limit: 500)
    }
}
