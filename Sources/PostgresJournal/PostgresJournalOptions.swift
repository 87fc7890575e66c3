import Foundation
import Logging
import WorkerStore

/// How a PostgreSQL journal connects and behaves. Every field has a documented default.
public struct PostgresJournalOptions: Sendable {
    /// The largest payload accepted, in bytes. Default 1 MiB.
    public var maxPayloadBytes: Int = 1 << 20
    /// Attempts a job gets when its enqueue does not say. Default 25.
    public var defaultMaxAttempts: Int = 25
    /// Backoff between attempts. Default: `RetryPolicy.default`.
    public var retryPolicy: RetryPolicy = .default
    /// Source of the jitter, a number in `0..<1`. Default: the system random generator.
    public var random: @Sendable () -> Double = { Double.random(in: 0..<1) }
    /// The pid written into every event. Default: this process's.
    public var pid: Int32 = getpid()
    /// How long to wait for the server to accept a connection. Default 5 s.
    public var connectTimeout: Duration = .seconds(5)
    /// How long one statement or transaction may take before the command gives up with `unavailable` (exit 75):
    /// a server that stopped answering must not hang a command or a worker. Default 30 s.
    public var statementTimeout: Duration = .seconds(30)
    /// Connections in the pool shared by this process's statements. Default 8.
    public var poolSize: Int = 8
    /// How the server notices a worker's host vanished (see `LockKeepalive`).
    public var keepalive = LockKeepalive()
    /// Settings for every session of the pool, sent at connect (`synchronous_commit`, `lock_timeout`...). Default
    /// none: the server's.
    public var sessionParameters: [(String, String)] = []
    /// Shown in `pg_stat_activity`. Default `worker`.
    public var applicationName = "worker"
    /// Where the journal reports what it did (migrations at `info`). Default: nowhere.
    public var logger = Logger(label: "worker.journal", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The defaults.
    public init() {}

    /// What every session of this journal is started with: the application name, the server's own statement
    /// timeout, then `sessionParameters`. The server cancels a statement (and rolls it back) 1 s before the client
    /// would give up on it (`statementTimeout`), so that a statement the client abandoned does not commit later:
    /// a round that committed after its worker gave up would leave jobs `running` under a worker that does not
    /// know them.
    var startupParameters: [(String, String)] {
        let client = statementTimeout.components
        let milliseconds = client.seconds * 1000 + client.attoseconds / 1_000_000_000_000_000
        return [("application_name", applicationName), ("statement_timeout", "\(max(100, milliseconds - 1000))")]
            + sessionParameters
    }
}

/// The server-side TCP settings of a worker's lock session: they bound how long the server keeps the advisory lock
/// of a worker whose host vanished (power loss, a cut network), after which a peer recovers its jobs. With the
/// defaults the server drops such a session about 11 s after its last traffic (measured over a cut veth link);
/// docs/journal.md states the bound as 15 s.
public struct LockKeepalive: Sendable, Equatable {
    /// Seconds of silence before the server's first keepalive probe. Default 5.
    public var idleSeconds = 5
    /// Seconds between probes. Default 2.
    public var intervalSeconds = 2
    /// Probes unanswered before the server drops the session. Default 3.
    public var count = 3
    /// Milliseconds data may stay unacknowledged before the server drops the session. Default 10,000.
    public var userTimeoutMilliseconds = 10_000

    public init() {}

    /// The startup parameters that set these for one session.
    var startupParameters: [(String, String)] {
        [("tcp_keepalives_idle", "\(idleSeconds)"), ("tcp_keepalives_interval", "\(intervalSeconds)"),
         ("tcp_keepalives_count", "\(count)"), ("tcp_user_timeout", "\(userTimeoutMilliseconds)"),
         // A backend busy in a statement notices a vanished client only when it writes; this makes it look.
         ("client_connection_check_interval", "1000")]
    }
}
