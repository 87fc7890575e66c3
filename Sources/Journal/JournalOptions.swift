import WorkerStore
import Foundation
import Logging

/// How a journal is opened and how it behaves. Every field has a documented default.
public struct JournalOptions: Sendable {
    /// SQLite's `synchronous` setting in WAL mode.
    public enum Synchronous: String, Sendable, CaseIterable {
        /// Every commit is fsynced before it returns: a committed transition survives power loss. Default.
        case full
        /// Commits are fsynced at WAL checkpoints only: faster, and the database stays consistent, but the
        /// last transactions before a power loss or OS crash (not a process crash) may roll back.
        case normal
    }

    /// Durability of commits. Default `.full`.
    public var synchronous: Synchronous = .full
    /// How long to wait for another process's write lock before failing with `busy`. Default 5 s.
    public var busyTimeoutSeconds: Double = 5
    /// The largest payload accepted, in bytes. Default 1 MiB.
    public var maxPayloadBytes: Int = 1 << 20
    /// Attempts a job gets when its enqueue does not say. Default 25.
    public var defaultMaxAttempts: Int = 25
    /// Backoff between attempts. Default: `RetryPolicy.default`.
    public var retryPolicy: RetryPolicy = .default
    /// Where times come from. Default: the system clock.
    public var clock: WallClock = .system
    /// Source of the jitter, a number in `0..<1`. Default: the system random generator.
    public var random: @Sendable () -> Double = { Double.random(in: 0..<1) }
    /// The pid written into every event. Default: this process's.
    public var pid: Int32 = getpid()
    /// Called with each SQL statement as SQLite runs it (parameters not expanded), on the connection's thread:
    /// for tests that check what the journal asks of SQLite (its query plans). Nil, the default, traces nothing.
    public var statementObserver: (@Sendable (String) -> Void)?
    /// Where the journal reports what it did to the database (migrations at `info`). Default: nowhere.
    public var logger = Logger(label: "worker.journal", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The defaults.
    public init() {}
}
