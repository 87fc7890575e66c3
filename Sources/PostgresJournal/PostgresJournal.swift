import Foundation
import Logging
import PostgresNIO
import Synchronization
import WorkerStore

/// The PostgreSQL journal: the same jobs, events, workers, checkpoints and steps as the SQLite journal, in a
/// database that workers and producers on many hosts share.
///
/// Statements go through a small pool (`PostgresClient`); a worker's liveness is a session-level advisory lock on
/// a connection of its own (`LockSession`). Every time is the server's. Every change of a job is one transaction
/// that updates the job and appends its event, as on SQLite.
public final class PostgresJournal: Sendable {
    /// Where the journal is.
    public let server: PostgresLocation
    /// The options it was opened with.
    public let options: PostgresJournalOptions
    let client: PostgresClient
    /// A pool of its own for the workers' rounds (`Round`), whose sessions plan without bitmap scans: a claim must
    /// walk its state's partial index in claim order and stop at its limit. With statistics taken before a bulk
    /// enqueue, the planner otherwise read and sorted the whole backlog in every round (30 ms instead of 0.2 ms
    /// with 30,000 jobs queued). Opens its connections only when a worker runs.
    let rounds: PostgresClient
    let logger: Logger
    private let running: Task<Void, Never>
    private let runningRounds: Task<Void, Never>
    private let observers = Mutex<[@Sendable () -> Void]>([])
    /// What this journal keeps for the workers registered through it (lock sessions, claim tokens, wake-ups).
    let workerSide = WorkerSide()

    private init(server: PostgresLocation, options: PostgresJournalOptions) {
        self.server = server
        self.options = options
        logger = options.logger
        // The pools' own log: errors only. Their warnings are not the operator's business: "lease before run()"
        // is said when a statement is asked for before the pool's task got to run (it then waits for it), and every
        // failure reaches the statement that met it, as a `JournalError`.
        var background = options.logger
        background.logLevel = .error
        let client = PostgresClient(configuration: Connections.client(server, options), backgroundLogger: background)
        let rounds = PostgresClient(
            configuration: Connections.client(server, options, size: 2, parameters: [("enable_bitmapscan", "off")]),
            backgroundLogger: background)
        self.client = client
        self.rounds = rounds
        running = Task { await client.run() }
        runningRounds = Task { await rounds.run() }
    }

    /// Connects to `server` (one connection of its own first, so that an unreachable server, a refused login, a
    /// missing database or refused TLS fails at once with its cause), then applies the migrations this binary
    /// carries. Refuses a schema migrated by a newer worker.
    public static func open(_ server: PostgresLocation, options: PostgresJournalOptions = PostgresJournalOptions()) async throws -> PostgresJournal {
        let probe = try await Connections.connect(server, options)
        await probe.closeNow()
        let journal = PostgresJournal(server: server, options: options)
        do {
            try await PostgresMigrations.apply(journal)
        } catch {
            await journal.close()
            throw error
        }
        return journal
    }

    /// Closes the lock sessions of the workers registered through this journal (their peers then see them dead)
    /// and the pool. Statements after this fail with `unavailable`.
    /// The pools get `closeBound` to shut down; then they are left to the process's end. (PostgresNIO's pool waits
    /// for a keep-alive statement it started, and one was seen whose answer never came: a close that waited for
    /// it never returned.)
    public func close() async {
        await closeLockSessions()
        running.cancel()
        runningRounds.cancel()
        let pools = Signal()
        Task { [running, runningRounds] in
            await running.value
            await runningRounds.value
            pools.fire()
        }
        if await !pools.wait(atMost: Self.closeBound) {
            logger.warning("the connection pools to \(server) did not shut down within \(Self.closeBound): left to the process's end")
        }
    }

    /// How long `close()` waits for the pools.
    static let closeBound: Duration = .seconds(5)

    /// Where the journal is, without the password.
    public var location: String { server.description }

    // MARK: Running statements

    /// Runs `body` in one transaction on a pooled connection, mapping errors to `JournalError`. `label` names the
    /// write point for `FaultInjection` (`commit:LABEL`), reached after the body and before the commit.
    func transaction<T: Sendable>(
        _ label: String, executor: (any TaskExecutor)? = nil, deadline: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let logger = self.logger
        return try await mapping(executor: executor, deadline: deadline) {
            try await self.client.withTransaction(logger: logger) { connection -> T in
                let result = try await body(connection)
                FaultInjection.point("commit:\(label)")  // written, not committed: a crash here must roll it back
                return result
            }
        }
    }

    /// Runs `body` with a pooled connection outside a transaction (each statement commits on its own).
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await mapping { try await self.client.withConnection { connection in try await body(connection) } }
    }

    /// Runs one statement and collects its rows. A single statement is its own transaction.
    @discardableResult
    func rows(_ query: PostgresQuery, on pool: PostgresClient? = nil) async throws -> [PostgresRow] {
        let logger = self.logger
        let pool = pool ?? client
        return try await mapping { try await pool.query(query, logger: logger).collect() }
    }

    /// Runs a prepared statement (prepared on each of `pool`'s connections the first time it runs there) and
    /// collects its rows.
    func prepared<Statement: PostgresPreparedStatement>(
        _ statement: Statement, on pool: PostgresClient
    ) async throws -> [Statement.Row] where Statement.Row: Sendable {
        let logger = self.logger
        return try await mapping {
            var rows: [Statement.Row] = []
            for try await row in try await pool.execute(statement, logger: logger) { rows.append(row) }
            return rows
        }
    }

    /// Like `transaction`, but blocks the calling thread until it commits: for a plugin's host-service call, on
    /// a thread of its own. Never call it from Swift's cooperative thread pool.
    func transactionBlocking<T: Sendable>(
        _ label: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task(executorPreference: BlockingExecutor.shared) {
            do {
                let value = try await self.transaction(label, executor: BlockingExecutor.shared, body)
                outcome.withLock { $0 = .success(value) }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// Maps every error to a `JournalError` (a cancelled caller stays a cancellation), and gives up with
    /// `unavailable` once `options.statementTimeout` has passed: a server that went silent must not hang a
    /// command. The abandoned statement's connection is closed by the pool when the server answers or the
    /// keepalive gives up; what it did not commit is rolled back.
    /// `executor`, when given, runs the work (see `BlockingExecutor`); `deadline` replaces the statement timeout.
    func mapping<T: Sendable>(
        executor: (any TaskExecutor)? = nil, deadline: Duration? = nil, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let server = self.server
        let deadline = deadline ?? options.statementTimeout
        let waiter = OneShot<T>()
        return try await withCheckedThrowingContinuation { continuation in
            waiter.set(continuation)
            // Unstructured on purpose: a statement on a connection whose server vanished may never return, and a
            // task group would wait for it.
            let timer = Task(executorPreference: executor) {
                try? await Task.sleep(for: deadline)
                guard !Task.isCancelled else { return }
                let late = JournalError(
                    .unavailable,
                    "the PostgreSQL server at \(server.endpoint) did not answer within \(deadline.components.seconds) s: check that it runs and is reachable, then try again")
                _ = waiter.resume(with: .failure(late))
            }
            Task(executorPreference: executor) {
                let result: Result<T, any Error>
                do { result = .success(try await body()) } catch { result = .failure(Self.journalError(error, server)) }
                if waiter.resume(with: result) { timer.cancel() }  // answered in time: the timer need not sleep on
            }
        }
    }

    private static func journalError(_ error: any Error, _ server: PostgresLocation) -> any Error {
        if error is CancellationError { return error }
        return PostgresErrors.map(error, server)
    }

    // MARK: New work in this process

    /// Calls `callback` after every commit of this process that may make a job claimable (enqueue, retry).
    public func onNewWork(_ callback: @escaping @Sendable () -> Void) {
        observers.withLock { $0.append(callback) }
    }

    func announceNewWork() {
        for callback in observers.withLock({ $0 }) { callback() }
    }
}

/// A continuation resumed once, by whichever comes first (the answer or the deadline).
private final class OneShot<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func set(_ value: CheckedContinuation<T, any Error>) {
        continuation.withLock { $0 = value }
    }

    /// Resumes the continuation unless it was already; true when this call did.
    @discardableResult
    func resume(with result: Result<T, any Error>) -> Bool {
        guard let waiting = continuation.withLock({ $0.take() }) else { return false }
        waiting.resume(with: result)
        return true
    }
}
