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
}
