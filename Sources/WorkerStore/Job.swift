import Foundation

/// Which plugin ran a job: recorded when a worker claims it.
public struct PluginStamp: Sendable, Equatable {
    /// The plugin's name.
    public var name: String
    /// The plugin's version.
    public var version: String
    /// SHA-256 of the plugin file, in hex.
    public var sha256: String

    /// A stamp.
    public init(name: String, version: String, sha256: String) {
        self.name = name
        self.version = version
        self.sha256 = sha256
    }
}

/// A job as the journal holds it. Times are `Micros`.
///
/// Timeouts are kept in whole milliseconds (`timeout_ms`).
public struct Job: Sendable, Equatable {
    public var id: Int64
    public var handler: String
    public var queue: String
    public var state: JobState
    /// Higher runs first.
    public var priority: Int
    /// The payload, JSON text.
    public var payload: String
    public var uniqueKey: String?
    /// Attempts started and counted; a graceful interruption gives its attempt back.
    public var attempts: Int
    public var maxAttempts: Int
    /// Times a worker died while running this job.
    public var crashes: Int
    public var runAt: Micros
    public var createdAt: Micros
    public var updatedAt: Micros
    public var finishedAt: Micros?
    /// The worker holding the job while `running`; otherwise the last one that ran it.
    public var workerID: String?
    public var lastError: String?
    /// When an operator asked to cancel it while it was running.
    public var cancelRequestedAt: Micros?
    /// The last checkpoint its handler saved.
    public var checkpoint: Data?
    /// When that checkpoint was saved.
    public var checkpointAt: Micros?
    /// The plugin that last ran it.
    public var plugin: PluginStamp?
    /// The key its queue's per-key concurrency limit counts it under.
    public var concurrencyKey: String?
    /// Its own timeout per attempt, as enqueued (nil: the queue's default applies, if any).
    public var timeout: Duration?
    /// The schedule that fired it.
    public var schedule: String?
    /// The default timeout of its queue when the job was read (`worker queue set Q --timeout`), nil when none.
    public var queueTimeout: Duration?

    /// How long one attempt may run: its own timeout, else its queue's; nil: no limit.
    public var effectiveTimeout: Duration? { timeout ?? queueTimeout }

    /// The most bytes of a failure's error a store keeps (`lastError`, and the event's reason): a plugin's error
    /// text could otherwise be any size. Longer ones are cut at a character boundary, with a note of their length.
    public static let errorLimit = 4096

    /// A job with every field given (stores build it from their rows).
    public init(
        id: Int64, handler: String, queue: String, state: JobState, priority: Int, payload: String, uniqueKey: String?,
        attempts: Int, maxAttempts: Int, crashes: Int, runAt: Micros, createdAt: Micros, updatedAt: Micros,
        finishedAt: Micros?, workerID: String?, lastError: String?, cancelRequestedAt: Micros?, checkpoint: Data?,
        checkpointAt: Micros?, plugin: PluginStamp?, concurrencyKey: String? = nil, timeout: Duration? = nil,
        schedule: String? = nil, queueTimeout: Duration? = nil
    ) {
        self.queueTimeout = queueTimeout
        self.concurrencyKey = concurrencyKey
        self.timeout = timeout
        self.schedule = schedule
        self.id = id
        self.handler = handler
        self.queue = queue
        self.state = state
        self.priority = priority
        self.payload = payload
        self.uniqueKey = uniqueKey
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.crashes = crashes
        self.runAt = runAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.finishedAt = finishedAt
        self.workerID = workerID
        self.lastError = lastError
        self.cancelRequestedAt = cancelRequestedAt
        self.checkpoint = checkpoint
        self.checkpointAt = checkpointAt
        self.plugin = plugin
    }
}

/// One journaled transition of a job.
public struct JobEvent: Sendable, Equatable {
    public var id: Int64
    public var jobID: Int64
    public var at: Micros
    /// Nil for the creation of the job.
    public var from: JobState?
    public var to: JobState
    /// The job's attempt count after the transition.
    public var attempt: Int
    /// The worker that made the transition; nil for operator commands and enqueues.
    public var workerID: String?
    public var pid: Int32
    public var reason: String

    /// An event with every field given.
    public init(
        id: Int64, jobID: Int64, at: Micros, from: JobState?, to: JobState, attempt: Int, workerID: String?, pid: Int32,
        reason: String
    ) {
        self.id = id
        self.jobID = jobID
        self.at = at
        self.from = from
        self.to = to
        self.attempt = attempt
        self.workerID = workerID
        self.pid = pid
        self.reason = reason
    }
}

/// A named step of a job as the journal records it.
public struct StepRecord: Sendable, Equatable {
    public var jobID: Int64
    public var name: String
    /// The attempt that last began or completed it.
    public var attempt: Int
    public var startedAt: Micros
    /// Nil while begun but not completed (for instance when the worker died inside it, or it failed).
    public var completedAt: Micros?
    public var result: Data?
    /// When the step's closure threw, if nothing has happened to the step since: a new begin clears it. Set means
    /// the step failed; nil with `completedAt` nil means it is in flight or its worker died inside it.
    public var failedAt: Micros?
    /// The attempt whose run of the step failed last; kept until the step completes.
    public var failedAttempt: Int?
    /// What that failure said (at most `errorLimit` bytes); kept until the step completes.
    public var error: String?

    /// The most bytes of a step's error a store keeps: a plugin's error text could otherwise be any size.
    public static let errorLimit = Job.errorLimit

    /// A step with every field given.
    public init(jobID: Int64, name: String, attempt: Int, startedAt: Micros, completedAt: Micros?, result: Data?,
                failedAt: Micros? = nil, failedAttempt: Int? = nil, error: String? = nil) {
        self.jobID = jobID
        self.name = name
        self.attempt = attempt
        self.startedAt = startedAt
        self.completedAt = completedAt
        self.result = result
        self.failedAt = failedAt
        self.failedAttempt = failedAttempt
        self.error = error
    }
}

extension Duration {
    /// Whole milliseconds, rounded up (a timeout is never shortened), as the journal's `timeout_ms` columns hold them.
    public var journalMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
