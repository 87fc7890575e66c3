import Foundation

/// How `worker run` behaves. Every field has a documented default.
public struct WorkerOptions: Sendable {
    /// Jobs run at once. Default 10.
    public var concurrency: Int = 10
    /// Only these queues; empty means all. Default all.
    public var queues: [String] = []
    /// How long a drain lets in-flight jobs finish before cancelling them. Default 7 s, so that with the
    /// cancellation grace and the final commit the worker exits within 10 s of TERM (docker's and supervisord's
    /// default before SIGKILL).
    public var drainTimeout: Duration = .seconds(7)
    /// After cancelling, how long jobs get to checkpoint and return before they are marked interrupted anyway.
    /// Default 1 s.
    public var cancelGrace: Duration = .seconds(1)
    /// Jobs claimed ahead of free slots (see `Prefetch`). Default `.auto`.
    public var prefetch = Prefetch.auto
    /// Exit 0 once no job is queued, running, retrying or interrupted.
    public var exitWhenIdle = false
    /// When idle, how often to look for jobs enqueued by other processes (a `data_version` read, no disk I/O),
    /// where their commits cannot be watched (no inotify). Default 5 ms.
    public var pollInterval: Duration = .milliseconds(5)
    /// When idle and watching for other processes' commits (inotify on the journal's WAL file), how often to
    /// look anyway, as a safety net. Scheduled jobs still start on time. Default 1 s.
    public var idleRecheck: Duration = .seconds(1)
    /// After a job ends while others run, how long to wait for more to end before committing them together.
    /// Default 1 ms: each commit is an fsync, and jobs ending together then cost one.
    public var groupCommitWindow: Duration = .milliseconds(1)
    /// How often to heartbeat, look for dead peers and for cancel requests. Default 500 ms.
    public var heartbeatInterval: Duration = .milliseconds(500)
    /// Deaths of a worker under one job after which it ends dead (poison job). Default 3.
    public var maxCrashes: Int = 3
    /// Delete completed jobs that finished longer ago than this, at start and every `pruneInterval`; nil keeps
    /// them all. Default nil.
    public var pruneCompletedOlderThan: Duration?
    /// How often to prune when `pruneCompletedOlderThan` is set. Default 1 hour.
    public var pruneInterval: Duration = .seconds(3600)
    /// Only these job ids (for `worker resume`); nil means any.
    public var onlyJobs: Set<Int64>?

    /// The defaults.
    public init() {}
}
