import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import WorkerStore

/// A registered worker's own connection to the server: it holds the worker's advisory lock (its liveness, see
/// `LockKeys`) and LISTENs for new work. Only short statements run on it, so the server's backend stays idle and
/// notices a vanished client at once (`client_connection_check_interval`) or within the keepalive bound.
///
/// It is watched three ways: its `closeFuture` (the server ended the session, a reset), its LISTEN loop (which
/// ends with the connection), and a ping (`SELECT 1`) every second that must answer within 5 s. So a link that
/// went silent is noticed within 6 s (1 s until the next ping plus its 5 s deadline), well before the server frees
/// the lock (about 11 s with the default `LockKeepalive`) and a peer recovers the worker's jobs. A query on a dead
/// connection may never return, so the ping is raced against its deadline without waiting for it.
final class LockSession: Sendable {
    let worker: String
    let connection: PostgresConnection
    /// `LockKeys` key of the worker's lock.
    let lockKey: Int32
    private let logger: Logger
    /// Set once the session ends, by `close` (on purpose) or a loss: later losses are not reported again.
    private let ended = Atomic<Bool>(false)
    private let tasks = Mutex<[Task<Void, Never>]>([])

    /// How often the watchdog pings, and how long a ping may take.
    static let pingInterval: Duration = .seconds(1)
    static let pingDeadline: Duration = .seconds(5)

    private init(worker: String, connection: PostgresConnection, lockKey: Int32, logger: Logger) {
        self.worker = worker
        self.connection = connection
        self.lockKey = lockKey
        self.logger = logger
    }

    /// Connects a session for `registration`, inserts the worker's row and takes its lock in one statement (so no
    /// peer ever sees the row with its lock free: a session lock outlives the statement's commit), records the
    /// handlers it serves, and starts listening. Nothing is left behind when it fails.
    static func open(_ journal: PostgresJournal, _ registration: WorkerRegistration) async throws -> LockSession {
        let parameters = journal.options.keepalive.startupParameters + [("application_name", applicationName(registration.id))]
        let connection = try await Connections.connect(journal.server, journal.options, parameters: parameters)
        do {
            let handlers = Array(Set(registration.handlers)).sorted()
            let rows = try await run(connection, journal, """
                WITH registered AS (
                    INSERT INTO workers (id, pid, host, process_started_at, started_at, heartbeat_at, version, server_started_at)
                    VALUES (\(registration.id), \(registration.pid), \(registration.host), \(registration.processStartedAt),
                            worker_micros(), worker_micros(), \(registration.version),
                            (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint)
                    RETURNING lock_key),
                served AS (
                    INSERT INTO served_handlers (handler, first_served_at, last_served_at)
                    SELECT handler, worker_micros(), worker_micros() FROM unnest(\(handlers)::text[]) AS h(handler)
                    ON CONFLICT (handler) DO UPDATE SET last_served_at = excluded.last_served_at)
                SELECT lock_key, pg_advisory_lock(\(LockKeys.namespace), lock_key) FROM registered
                """)
            guard let row = rows.first else { throw JournalError(.internalError, "registering worker \(registration.id) returned no row") }
            let key = try row.makeRandomAccess()[0].decode(Int32.self)
            // Behind a pooler in transaction or statement mode the lock stays on whichever server connection ran
            // the statement, and this next one may run on another: the lock is then not this session's.
            let own = try await run(connection, journal, """
                SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
                  AND objsubid = 2 AND classid = \(LockKeys.namespace)::oid AND objid = \(key)::oid
                """)
            guard try own.first?.decode(Int64.self) == 1 else {
                throw JournalError(
                    .misconfigured,
                    "the liveness lock of worker \(registration.id) is not held by its own session at \(journal.server.endpoint): a pooler in transaction or statement mode (PgBouncer?) is in between; connect workers to the server directly, or through a pooler in session mode")
            }
            return LockSession(worker: registration.id, connection: connection, lockKey: key, logger: journal.logger)
        } catch {
            await connection.closeNow()
            throw error
        }
    }

    /// `application_name` of a worker's lock session, by which operators (and tests) find it in `pg_stat_activity`.
    static func applicationName(_ worker: String) -> String { "worker \(worker)" }

    /// Starts the LISTEN loop and the watchdog; returns once the server listens. `notified` is called for each
    /// notification on `worker_jobs`, `lost` once if the session ends without `close`.
    func watch(notified: @escaping @Sendable () -> Void, lost: @escaping @Sendable (String) -> Void) async {
        let listening = Signal()
        let report: @Sendable (String) -> Void = { [self] why in
            guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
            logger.error("lost the lock session of worker \(worker): \(why)")
            lost(why)
            Task { await self.stop() }
        }
        let connection = self.connection
        connection.closeFuture.whenComplete { _ in report("the connection closed") }
        let listen = Task {
            do {
                try await connection.listen(on: "worker_jobs") { notifications in
                    listening.fire()
                    for try await _ in notifications { notified() }
                }
                report("its LISTEN ended")
            } catch {
                report("its LISTEN failed: \(String(reflecting: error))")
            }
            listening.fire()
        }
        let ping = Task { [self] in
            while !Task.isCancelled && !ended.load(ordering: .acquiring) {
                try? await Task.sleep(for: Self.pingInterval)
                if Task.isCancelled || ended.load(ordering: .acquiring) { return }
                if connection.isClosed { return report("the connection closed") }
                if let failure = await Self.ping(connection, logger: logger) { return report(failure) }
            }
        }
        tasks.withLock { $0 += [listen, ping] }
        await listening.wait(atMost: .seconds(5))
    }

    /// Nil when the server answered `SELECT 1` within `pingDeadline`, else why not. The race is decided on the
    /// connection's event loop, where both the answer and the deadline land, never on the process's task pool: a
    /// busy process (its cooperative threads taken by jobs or other work) must not mistake its own slowness in
    /// reading an answer for a silent link. A query on a dead connection may never complete; the deadline does.
    static func ping(_ connection: PostgresConnection, deadline: Duration = pingDeadline, logger: Logger) async -> String? {
        let loop = connection.eventLoop
        let decided = loop.makePromise(of: String?.self)
        let nanoseconds = deadline.components.seconds * 1_000_000_000 + deadline.components.attoseconds / 1_000_000_000
        let timer = loop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            decided.succeed("the server did not answer a ping within \(deadline.components.seconds) s")
        }
        connection.query("SELECT 1", logger: logger).whenComplete { result in
            timer.cancel()
            switch result {
            case .success: decided.succeed(nil)  // ignored when the deadline came first
            case .failure(let error): decided.succeed("a ping failed: \(String(reflecting: error))")
            }
        }
        do {
            return try await decided.futureResult.get()
        } catch {
            return "a ping failed: \(String(reflecting: error))"  // not reached: the promise only ever succeeds
        }
    }

    /// Ends the session on purpose: the server frees the lock as the session closes.
    func close() async {
        ended.store(true, ordering: .releasing)
        await stop()
    }

    private func stop() async {
        for task in tasks.withLock({ $0 }) { task.cancel() }
        await connection.closeNow()
    }

    /// Runs one short statement on `connection`, racing it against the journal's statement deadline; on the
    /// deadline the connection is closed (the statement may still be pending on it) and `unavailable` thrown.
    private static func run(_ connection: PostgresConnection, _ journal: PostgresJournal, _ query: PostgresQuery) async throws -> [PostgresRow] {
        let logger = journal.logger
        let server = journal.server
        let deadline = journal.options.statementTimeout
        let answer = Race<Result<[PostgresRow], any Error>>()
        return try await withCheckedContinuation { continuation in
            answer.set(continuation)
            Task {
                do {
                    answer.finish(.success(try await connection.query(query, logger: logger).collect()))
                } catch {
                    answer.finish(.failure(PostgresErrors.map(error, server)))
                }
            }
            Task {
                try? await Task.sleep(for: deadline)
                if answer.finish(.failure(JournalError(
                    .unavailable,
                    "the PostgreSQL server at \(server.endpoint) did not answer within \(deadline.components.seconds) s: check that it runs and is reachable, then try again")))
                {
                    await connection.closeNow()
                }
            }
        }.get()
    }
}

/// A continuation resumed once, by whichever finishes first.
final class Race<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, Never>?>(nil)

    func set(_ value: CheckedContinuation<T, Never>) {
        continuation.withLock { $0 = value }
    }

    /// Resumes with `value` unless already resumed; true when this call did.
    @discardableResult
    func finish(_ value: T) -> Bool {
        guard let waiting = continuation.withLock({ $0.take() }) else { return false }
        waiting.resume(returning: value)
        return true
    }
}

/// A one-time event to wait for, with a bound.
final class Signal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [Race<Bool>])>((false, []))

    func fire() {
        let waiters = state.withLock { state -> [Race<Bool>] in
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.finish(true) }
    }

    /// Returns when fired (true), or after `bound` (false). The bound's timer starts once the wait is set up (a
    /// timer that ended first would have nothing to end), and lives out its bound.
    @discardableResult
    func wait(atMost bound: Duration) async -> Bool {
        let race = Race<Bool>()
        return await withCheckedContinuation { continuation in
            race.set(continuation)
            let now = state.withLock { state -> Bool in
                if state.fired { return true }
                state.waiters.append(race)
                return false
            }
            if now {
                race.finish(true)
                return
            }
            Task {
                try? await Task.sleep(for: bound)
                race.finish(false)
            }
        }
    }
}
