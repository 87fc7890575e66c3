import Foundation

/// A job to enqueue. Only `handler` is required.
public struct NewJob: Sendable, Equatable {
    /// The handler name a plugin provides.
    public var handler: String
    /// JSON text. Default `{}`.
    public var payload: String
    /// Default `default`.
    public var queue: String
    /// Higher runs first. Default 0.
    public var priority: Int
    /// Earliest start; nil or a time not in the future means now (`queued`), later means `scheduled`.
    public var runAt: Micros?
    /// Nil takes `JournalOptions.defaultMaxAttempts`.
    public var maxAttempts: Int?
    /// While a job with this key is unfinished, enqueueing another returns the existing one.
    public var uniqueKey: String?
    /// Jobs of one queue with the same key share the queue's per-key concurrency limit. Nil: no key.
    public var concurrencyKey: String?
    /// How long one attempt may run before it is cancelled and fails `timed out`. Nil: the queue's default, if any.
    public var timeout: Duration?
    /// The schedule that fired it; nil for jobs enqueued otherwise.
    public var schedule: String?

    /// A job for `handler` with the given fields.
    public init(
        handler: String, payload: String = "{}", queue: String = "default", priority: Int = 0,
        runAt: Micros? = nil, maxAttempts: Int? = nil, uniqueKey: String? = nil, concurrencyKey: String? = nil,
        timeout: Duration? = nil, schedule: String? = nil
    ) {
        self.concurrencyKey = concurrencyKey
        self.timeout = timeout
        self.schedule = schedule
        self.handler = handler
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.uniqueKey = uniqueKey
    }
}

/// The result of enqueueing one job.
public struct Enqueued: Sendable, Equatable {
    /// The new job's id, or the id of the unfinished job that already holds the unique key.
    public var id: Int64
    /// False when the unique key matched an existing job and nothing was enqueued.
    public var created: Bool

    /// A result.
    public init(id: Int64, created: Bool) {
        self.id = id
        self.created = created
    }
}

/// What a round of `finishAndClaim` did.
public struct RoundResult: Sendable {
    /// How each outcome was recorded, in the batch's order.
    public var finished: [Result<JobState, JournalError>]
    /// The jobs claimed, in claim order.
    public var claimed: [Job]
    /// When the round asked for jobs and claimed none: the earliest `run_at` of a scheduled or retrying job still
    /// to come at the claim's own clock reading (nil: none). A worker waits for it. Read in the same transaction as
    /// the claim: read after it, a job falling due in between was neither claimed nor waited for.
    public var nextRunAt: Micros?

    public init(finished: [Result<JobState, JournalError>], claimed: [Job], nextRunAt: Micros? = nil) {
        self.finished = finished
        self.claimed = claimed
        self.nextRunAt = nextRunAt
    }
}

/// What a worker asks for when it claims work.
public struct ClaimRequest: Sendable, Equatable {
    /// The claiming worker; it must be registered and live.
    public var worker: String
    /// At most this many jobs.
    public var limit: Int
    /// Only these queues; empty means every queue.
    public var queues: [String]
    /// Only jobs whose handler is loaded; nil means any handler.
    public var handlers: [String]?
    /// The plugin that provides each handler: recorded on every job claimed for it.
    public var plugins: [String: PluginStamp]
    /// Only these job ids (`worker resume`); nil means any.
    public var ids: [Int64]?
    /// Run suspects alone: while an interrupted job under which `suspectCrashes` workers died waits, a busy
    /// worker claims nothing, and an idle one claims that job alone. A job that crashes its worker is then
    /// identified for certain, and the jobs that merely ran beside it are not counted as poison too.
    public var isolateSuspects: Bool
    /// The deaths that make an interrupted job a suspect. Default 1. `worker run` uses its crash limit minus one:
    /// a job runs alone once its next death would end it `dead`, so one death (an operator's SIGKILL, a lost
    /// host) does not make the jobs that ran beside it wait for each other, and a poison job still cannot take
    /// an innocent job to `dead` with it.
    public var suspectCrashes: Int = 1
    /// Whether the claiming worker has jobs in flight (see `isolateSuspects`).
    public var busy: Bool
    /// Jobs to claim ahead, in addition to `limit`, for a worker's reserve: the jobs that follow the first `limit`
    /// in claim order, as long as their handler is one of `aheadHandlers` (nil: any). The reserve stops in front
    /// of the first other job, so no job is ever passed over. None while a suspect waits or is claimed.
    public var ahead: Int = 0
    public var aheadHandlers: [String]?

    /// A request; see the properties.
    public init(
        worker: String, limit: Int, queues: [String] = [], handlers: [String]? = nil, plugins: [String: PluginStamp] = [:],
        ids: [Int64]? = nil, isolateSuspects: Bool = false, busy: Bool = false
    ) {
        self.ids = ids
        self.isolateSuspects = isolateSuspects
        self.busy = busy
        self.worker = worker
        self.limit = limit
        self.queues = queues
        self.handlers = handlers
        self.plugins = plugins
    }
}

/// Which jobs `jobs(_:)` lists, and which a bulk retry or cancel acts on.
public struct JobFilter: Sendable, Equatable {
    public var state: JobState?
    public var handler: String?
    public var queue: String?
    /// Only jobs created at or after this time.
    public var createdSince: Micros?
    /// Only jobs whose payload (its JSON text as stored) or last error contains this text, case-sensitively.
    public var search: String?
    /// Only jobs the schedule of this name fired.
    public var schedule: String?
    /// At most this many. Default 100.
    public var limit: Int
    /// Newest (highest id) first instead of oldest first.
    public var newestFirst: Bool
    /// The keyset cursor: only ids above it (below it when `newestFirst`), i.e. the page after the one that
    /// ended with this id.
    public var after: Int64?
    /// With `search`, a listing (`jobs`, `jobPage`; not a bulk plan) reads at most this many of the jobs the other
    /// fields select, from the cursor on in the page's order, for the text: a text no job holds costs a bounded read,
    /// not a scan of the whole history. A page that reached the bound before it filled holds the matches found,
    /// and its `next` is the last job read, so that the next page searches on from there (a page may then be empty
    /// and still have a `next`). Nil: no bound. At least 1.
    public var scanLimit: Int?

    /// A filter; nil fields match everything.
    public init(
        state: JobState? = nil, handler: String? = nil, queue: String? = nil, createdSince: Micros? = nil,
        search: String? = nil, limit: Int = 100, newestFirst: Bool = false, after: Int64? = nil, schedule: String? = nil,
        scanLimit: Int? = nil
    ) {
        self.schedule = schedule
        self.scanLimit = scanLimit
        self.state = state
        self.handler = handler
        self.queue = queue
        self.createdSince = createdSince
        self.search = search
        self.limit = limit
        self.newestFirst = newestFirst
        self.after = after
    }
}
