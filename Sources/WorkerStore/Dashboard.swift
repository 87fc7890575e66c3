/// Jobs that ended an attempt in one minute, for the dashboard's charts: read from a rollup the stores keep as
/// outcomes are recorded (one row per minute and worker), so that an hour costs sixty rows however many jobs ran.
public struct ActivityMinute: Sendable, Equatable {
    /// The minute's start.
    public var minute: Micros
    /// Attempts that completed.
    public var completed: Int
    /// Attempts that failed (their job went `retrying` or `dead`).
    public var failed: Int
    /// Jobs that became `interrupted` (a drain, or a recovery after a worker died).
    public var interrupted: Int

    public init(minute: Micros, completed: Int, failed: Int, interrupted: Int) {
        self.minute = minute
        self.completed = completed
        self.failed = failed
        self.interrupted = interrupted
    }
}

/// A worker as the dashboard's `/workers` page shows it.
public struct WorkerSummary: Sendable, Equatable {
    public var record: WorkerRecord
    /// Whether its process is alive (registered, not stopped, its liveness held).
    public var live: Bool
    /// Jobs it holds `running`.
    public var running: Int

    public init(record: WorkerRecord, live: Bool, running: Int) {
        self.record = record
        self.live = live
        self.running = running
    }
}

/// Who asked for an operator's change, as its journal event names it: `operator` for the command line,
/// `dashboard (client 10.0.0.7)` for the admin endpoint.
public struct ChangeOrigin: Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }

    /// The command line.
    public static let `operator` = ChangeOrigin("operator")

    /// The dashboard, for a client at `address`.
    public static func dashboard(client address: String) -> ChangeOrigin { ChangeOrigin("dashboard (client \(address))") }

    /// The reason of the event of a job it retried ("retried by operator").
    public var retriedReason: String { "retried by \(description)" }
    /// The reason of the event of a job it cancelled ("cancelled by operator").
    public var cancelledReason: String { "cancelled by \(description)" }
}

/// How every store keeps its activity rollup (`job_activity`: per minute and worker, the attempts that completed,
/// failed and were interrupted), so that `activity(since:)` reads the same on each.
public enum ActivityRollup {
    /// A minute, in microseconds.
    public static let minute: Micros = 60_000_000
    /// How long rows are kept: older ones are deleted when a worker opens a new minute.
    public static let retention: Micros = 7 * 24 * 60 * minute
    /// The worker a recovery asked for by an operator (no live worker) is counted under.
    public static let recoveryWorker = "recovery"

    /// The start of the minute `instant` falls in.
    public static func minute(of instant: Micros) -> Micros {
        instant - ((instant % minute) + minute) % minute
    }

    /// What one transaction adds to its worker's row of the minute.
    public struct Counts: Sendable, Equatable {
        public var completed = 0, failed = 0, interrupted = 0

        /// The counts of jobs that went to `states` from `running`: `completed`; `retrying` or `dead` (failed, a
        /// timeout or a worker's death under a poison job included); `interrupted`. A cancelled one counts nowhere.
        public init(states: some Sequence<JobState>) {
            for state in states {
                switch state {
                case .completed: completed += 1
                case .retrying, .dead: failed += 1
                case .interrupted: interrupted += 1
                case .scheduled, .queued, .running, .cancelled: break
                }
            }
        }

        /// Whether there is nothing to add.
        public var isEmpty: Bool { completed == 0 && failed == 0 && interrupted == 0 }
    }
}

extension WorkerSummary {
    /// `candidates` as `workerSummaries(limit:)` lists them: the live ones by start, then the others (stopped, or
    /// dead and not yet recovered) by when they were last known to live (stopped, else their last heartbeat),
    /// newest first; at most `limit`.
    public static func listing(_ candidates: [WorkerSummary], limit: Int) -> [WorkerSummary] {
        let live = candidates.filter(\.live).sorted { ($0.record.startedAt, $0.record.registration.id) < ($1.record.startedAt, $1.record.registration.id) }
        let gone = candidates.filter { !$0.live }.sorted {
            ($0.record.stoppedAt ?? $0.record.heartbeatAt, $0.record.registration.id) > ($1.record.stoppedAt ?? $1.record.heartbeatAt, $1.record.registration.id)
        }
        return Array((live + gone).prefix(max(0, limit)))
    }
}
