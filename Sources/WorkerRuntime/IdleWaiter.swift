import WorkerStore
import Logging

/// How an idle worker waits for work without spinning: woken by other processes' commits (the store's commit
/// watch: on SQLite an inotify watch on the WAL file; or polling where there is none), with a settling series of looks after each, and on
/// time for the next scheduled or retrying job. The journal reads are the dispatcher's; this decides.
struct IdleWaiter {
    /// Wakes the idle loop when another process commits (nil: poll every `pollInterval` instead).
    private var peerCommits: (any CommitWatch)?
    /// While idle: the gap before the next look, while a commit seen being written may still be settling; nil
    /// once settled.
    private var settleGap: Duration? = .milliseconds(1)
    private var lastDataVersion: Int64?
    /// When the next job not yet due becomes due (nil: none, or not looked up yet).
    var nextRunAt: Micros?
    let pollInterval: Duration
    let idleRecheck: Duration

    init(peerCommits: (any CommitWatch)?, pollInterval: Duration, idleRecheck: Duration) {
        self.peerCommits = peerCommits
        self.pollInterval = pollInterval
        self.idleRecheck = idleRecheck
    }

    /// Whether the loop is woken by other processes' commits (false: it polls).
    var watching: Bool { peerCommits != nil }

    /// Whether the watch may stay armed while the worker is busy: it never fires on the worker's own commits.
    var hearsOthersOnly: Bool { peerCommits?.hearsOwnCommits == false }

    /// Stops watching for good (closes the watch).
    mutating func close() { peerCommits = nil }

    /// Whether what the journal's `data_version` says is new since the last look, or a scheduled job is due by
    /// the wall clock's `now`: then the caller looks up `nextRunAt` again and tries a claim.
    mutating func somethingNew(dataVersion: Int64, now: Micros) -> Bool {
        defer { lastDataVersion = dataVersion }
        if dataVersion != lastDataVersion { return true }
        if let due = nextRunAt, due <= now { return true }
        return false
    }

    /// Arms the watch for an idle wait; false (and polling from now on, said once in the log) when it cannot.
    mutating func arm(logger: Logger) -> Bool {
        guard let watch = peerCommits else { return false }
        if watch.arm() { return true }
        logger.notice("cannot watch \(watch) for other processes' commits: looking every \(pollInterval) while idle")
        peerCommits = nil
        return false
    }

    /// Busy or stopping: the worker's own commits must not wake the loop; writes made meanwhile are looked for
    /// over the settling series once it is idle again.
    mutating func disarm() {
        peerCommits?.disarm()
        settleGap = .milliseconds(1)
    }

    /// How long an idle, watching loop waits: the loop looks at `data_version` after each wait. The watch fires as
    /// a commit is written, which readers see only once its fsync is done: after a write, and after being busy
    /// (writes then went unwatched), the looks come 1, 2, 4 … 256 ms apart; then only a new write, the recheck
    /// or a due time ends the wait. `now` is the wall clock's, for due times.
    mutating func idleTimeout(now: Micros) -> Duration {
        if peerCommits?.takeFired() == true { settleGap = .milliseconds(1) }
        var timeout = settleGap ?? idleRecheck
        if let gap = settleGap { settleGap = gap < .milliseconds(256) ? gap * 2 : nil }
        if let due = nextRunAt {  // a scheduled or retrying job starts on time
            timeout = min(timeout, .microseconds(max(0, due - now)))
        }
        return timeout
    }
}
