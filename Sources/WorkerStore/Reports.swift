/// The jobs waiting or running in one queue and state (unfinished states only).
public struct QueueDepth: Sendable, Equatable {
    public var queue: String
    public var state: JobState
    public var count: Int

    /// A count.
    public init(queue: String, state: JobState, count: Int) {
        self.queue = queue
        self.state = state
        self.count = count
    }
}

/// What `worker status` shows: counts per queue and state, live workers, and how long the oldest ready job waits.
public struct Overview: Sendable {
    /// Jobs per queue and state; only combinations with jobs.
    public var counts: [String: [JobState: Int]]
    /// Registered workers that have not stopped.
    public var workers: [WorkerRecord]
    /// Per queue, when its oldest queued job became ready to run (its `run_at`).
    public var oldestQueued: [String: Micros]
    /// When this was read.
    public var at: Micros

    /// An overview.
    public init(counts: [String: [JobState: Int]], workers: [WorkerRecord], oldestQueued: [String: Micros], at: Micros) {
        self.counts = counts
        self.workers = workers
        self.oldestQueued = oldestQueued
        self.at = at
    }
}

/// Unfinished jobs of one handler: waiting (queued, retrying, interrupted) and running.
public struct ActiveHandlerJobs: Sendable, Equatable {
    public var handler: String
    public var waiting: Int
    public var running: Int

    /// Counts for `handler`.
    public init(handler: String, waiting: Int, running: Int) {
        self.handler = handler
        self.waiting = waiting
        self.running = running
    }
}

/// What `worker journal verify` found. Empty lists mean the journal is sound.
public struct VerifyReport: Sendable, Equatable {
    /// What SQLite's `integrity_check` reported, when it is not "ok".
    public var integrityErrors: [String]
    /// Consistency problems between jobs, events and workers, one line each.
    public var findings: [String]
    /// How many jobs and events were checked.
    public var jobsChecked: Int
    public var eventsChecked: Int

    /// A report.
    public init(integrityErrors: [String], findings: [String], jobsChecked: Int, eventsChecked: Int) {
        self.integrityErrors = integrityErrors
        self.findings = findings
        self.jobsChecked = jobsChecked
        self.eventsChecked = eventsChecked
    }

    /// Whether nothing was found.
    public var isSound: Bool { integrityErrors.isEmpty && findings.isEmpty }
}
