import Foundation
import Logging
import PostgresNIO
import Synchronization
import WorkerStore

/// What a journal keeps in memory for the workers registered through it: their lock sessions, the claim token of
/// each job it holds (the fence of its writes), why it stopped claiming, and its wake-ups.
final class WorkerSide: Sendable {
    /// A job this journal claimed: the token of that claim and the attempt data its outcome needs.
    struct Hold: Sendable {
        /// The worker that claimed it (several may register through one journal).
        var worker: String
        var token: Int64
        var attempts: Int
        var maxAttempts: Int
    }

    let sessions = Mutex<[String: LockSession]>([:])
    let holds = Mutex<[Int64: Hold]>([:])
    /// Why claims are refused: a lock session was lost (see `storageProblem`).
    let lost = Mutex<String?>(nil)
    /// Notifications heard on `worker_jobs`, for `dataVersion`.
    let notifications = Atomic<Int64>(0)
    /// Armed commit watches, by identity.
    let watches = Mutex<[ObjectIdentifier: ListenWatch]>([:])
    let created = ContinuousClock.now

    /// A notification arrived (or the session was lost): count it and wake whoever waits.
    func notified() {
        notifications.add(1, ordering: .relaxed)
        for watch in watches.withLock({ Array($0.values) }) { watch.fire() }
    }
}

extension PostgresJournal {
    /// Grace a worker that registered before the server's last start gets to notice and go: the restart freed its
    /// lock, not its death, so its jobs are not taken back until this long after the start (microseconds).
    static let restartGrace: Micros = 10_000_000

    /// Registers a live worker and takes its lock on a session of its own (see `LockSession`): a peer that sees the
    /// worker's row sees its lock held until `deregister`, the death of its process, or the server giving up on its
    /// host. Records the handlers it serves.
    public func register(_ worker: WorkerRegistration) async throws {
        try Validation.name(worker.id, what: "worker id")
        let session = try await LockSession.open(self, worker)
        let side = workerSide
        side.sessions.withLock { $0[worker.id] = session }
        let endpoint = server.endpoint
        await session.watch(notified: { side.notified() }, lost: { _ in
            side.lost.withLock { lost in
                if lost == nil {
                    lost = "lost the lock session to the PostgreSQL server at \(endpoint): its jobs will be recovered by a peer; exiting so that the supervisor restarts the worker"
                }
            }
            side.notified()  // an idle worker looks again, and finds its claims refused
        })
    }

    /// Ends the lock sessions of the workers registered through this journal without deregistering them (their
    /// peers then see them dead): for `close`.
    func closeLockSessions() async {
        let sessions = workerSide.sessions.withLock { sessions in
            defer { sessions.removeAll() }
            return Array(sessions.values)
        }
        for session in sessions { await session.close() }
    }

    /// Records that a worker is alive now, and deletes the activity rollup's rows older than its retention.
    public func heartbeat(worker: String) async throws {
        try await rows("""
            WITH t AS MATERIALIZED (SELECT worker_micros() AS now),
            beat AS (UPDATE workers SET heartbeat_at = (SELECT now FROM t) WHERE id = \(worker)),
            \(unescaped: PGActivity.expiry(now: "(SELECT now FROM t)"))
            SELECT 1
            """)
    }

    /// Marks a worker stopped and ends its lock session, which frees its lock. It must hold no running job:
    /// interrupt or finish them first.
    public func deregister(worker: String, reason: String) async throws {
        let rows = try await rows("""
            WITH running AS (SELECT count(*) AS n FROM jobs WHERE state = 'running' AND worker_id = \(worker)),
            stopped AS (UPDATE workers SET stopped_at = worker_micros(), stop_reason = \(reason)
                        WHERE id = \(worker) AND stopped_at IS NULL AND (SELECT n FROM running) = 0 RETURNING id)
            SELECT n FROM running
            """)
        let running = try rows.first?.decode(Int64.self) ?? 0
        if running > 0 {
            throw JournalError(
                .illegalTransition,
                "worker \(worker) still holds \(running) running job(s): interrupt or finish them before deregistering")
        }
        if let session = workerSide.sessions.withLock({ $0.removeValue(forKey: worker) }) { await session.close() }
    }

    /// The workers other than `except` that are registered live or hold running jobs and whose lock no session
    /// holds. Workers that registered before the server's last start are left out for `restartGrace` after it.
    private static func deadCandidatesSQL(except: String?, locking: Bool) -> PostgresQuery {
        // `locking`: take each free lock for this transaction (a recovery), so that the owner cannot be live again
        // and no other recoverer takes the same worker; else only look.
        let free = locking
            ? "(c.lock_key IS NULL OR pg_try_advisory_xact_lock(\(LockKeys.namespace), c.lock_key))"
            : "(c.lock_key IS NULL OR NOT \(LockKeys.heldSQL(keyColumn: "c.lock_key")))"
        return """
            WITH server AS (SELECT worker_micros() AS now,
                                   (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint AS started),
            holders AS (SELECT id FROM workers WHERE stopped_at IS NULL
                        UNION SELECT worker_id FROM jobs WHERE state = 'running' AND worker_id IS NOT NULL),
            candidates AS MATERIALIZED (
                SELECT h.id, w.pid, w.lock_key, coalesce(w.server_started_at < s.started, false) AS restarted, s.now, s.started
                FROM holders h LEFT JOIN workers w ON w.id = h.id CROSS JOIN server s
                WHERE \(except)::text IS NULL OR h.id <> \(except)::text)
            SELECT c.id, c.pid, c.restarted FROM candidates c
            WHERE NOT (c.restarted AND c.now < c.started + \(restartGrace)) AND \(unescaped: free)
            ORDER BY c.id
            """
    }

    private static func deadWorkers(_ rows: [PostgresRow]) throws -> [(id: String, pid: Int32?, restarted: Bool)] {
        try rows.map { row in
            let (id, pid, restarted) = try row.decode((String, Int32?, Bool).self)
            return (id, pid, restarted)
        }
    }

    /// Workers other than `except` that are dead for certain: registered live or holding running jobs, with their
    /// lock free. (One that registered before the server restarted is not counted for `restartGrace`.)
    public func deadWorkers(except: String?) async throws -> [(id: String, pid: Int32?)] {
        try Self.deadWorkers(try await rows(Self.deadCandidatesSQL(except: except, locking: false))).map { ($0.id, $0.pid) }
    }

    /// Whether `worker` is registered and its lock held.
    public func isLive(worker: String) async throws -> Bool {
        let rows = try await rows("""
            SELECT count(*) FROM workers WHERE id = \(worker) AND stopped_at IS NULL
            AND \(unescaped: LockKeys.heldSQL(keyColumn: "lock_key"))
            """)
        return try rows.first?.decode(Int64.self) == 1
    }

    /// How many registered workers hold their lock, on every host.
    public func liveWorkerCount() async throws -> Int {
        let rows = try await rows(
            "SELECT count(*) FROM workers WHERE stopped_at IS NULL AND \(unescaped: LockKeys.heldSQL(keyColumn: "lock_key"))")
        return Int(try rows.first?.decode(Int64.self) ?? 0)
    }

    /// Those of `handlers` no worker has ever served here, or nil when none has served any yet.
    public func unservedHandlers(among handlers: [String]) async throws -> [String]? {
        let wanted = Array(Set(handlers)).sorted()
        let rows = try await rows("""
            SELECT EXISTS (SELECT 1 FROM served_handlers),
                   coalesce((SELECT array_agg(h ORDER BY h) FROM unnest(\(wanted)::text[]) AS u(h)
                             WHERE NOT EXISTS (SELECT 1 FROM served_handlers WHERE handler = u.h)), '{}')
            """)
        guard let row = rows.first else { return nil }
        let (any, unserved) = try row.decode((Bool, [String]).self)
        return any ? unserved : nil
    }

    /// Finds the workers whose lock is free and takes back the jobs they held `running` (see
    /// `JobStore.recoverDeadWorkers`), through the pool: a session that holds a lock would get it from its own
    /// try-lock. A read looks first, so a beat with nobody dead writes nothing. The transaction then takes each dead
    /// worker's lock for itself (`pg_try_advisory_xact_lock`), which is the decision: the owner is gone, and no other
    /// recoverer has it. A worker that registered before the server's last start lost its lock to the restart, not
    /// to a crash: it gets `restartGrace` to go by itself, and when recovered anyway no crash is counted against its
    /// jobs.
    public func recoverDeadWorkers(recoverer: String?, maxCrashes: Int) async throws -> [RecoveredWorker] {
        guard try await !deadWorkers(except: recoverer).isEmpty else { return [] }
        let pid = options.pid
        let logger = self.logger
        return try await transaction("recover") { connection in
            let dead = try Self.deadWorkers(
                try await connection.query(Self.deadCandidatesSQL(except: recoverer, locking: true), logger: logger).collect())
            guard !dead.isEmpty else { return [] }
            let reasons = Dictionary(uniqueKeysWithValues: dead.map { worker in
                (worker.id, worker.restarted
                    ? "worker \(worker.id) (pid \(worker.pid.map(String.init) ?? "unknown")) lost its lock when the PostgreSQL server restarted"
                    : RecoveryTransition.died(worker: worker.id, pid: worker.pid))
            })
            let restarted = Set(dead.filter(\.restarted).map(\.id))
            // The dead workers' rows first: a round of the same worker still on its way (its lock session is gone, its
            // pool connection not yet) holds its row while it claims (`FOR KEY SHARE` in `Round`). Waiting for it here
            // lets this transaction see what it claimed and take that back too; a round that comes after finds the
            // worker stopped and claims nothing. Without it, such a round's claims stayed `running` under a stopped
            // worker until a second recovery, which counted a crash against jobs that may never have started.
            try await connection.query(
                "SELECT id FROM workers WHERE id = ANY(\(dead.map(\.id))::text[]) ORDER BY id FOR UPDATE", logger: logger)
            let held = try await connection.query("""
                SELECT id, worker_id, crashes, cancel_requested_at IS NOT NULL FROM jobs
                WHERE state = 'running' AND worker_id = ANY(\(dead.map(\.id))::text[]) ORDER BY id FOR UPDATE
                """, logger: logger).collect()
            var ids: [Int64] = [], states: [String] = [], crashes: [Int32] = [], setError: [Bool] = [], why: [String] = []
            for row in held {
                let (id, holder, before, cancelRequested) = try row.decode((Int64, String, Int32, Bool).self)
                let change = RecoveryTransition(
                    reason: reasons[holder]!, crashes: Int(before), cancelRequested: cancelRequested, maxCrashes: maxCrashes,
                    countsCrash: !restarted.contains(holder))
                ids.append(id)
                states.append(change.target.rawValue)
                crashes.append(Int32(change.crashes))
                setError.append(change.setsLastError)
                why.append(change.reason)
            }
            let workers = dead.map(\.id)
            let stopReasons = workers.map { RecoveryTransition.stopReason(reasons[$0]!) }
            _ = try await connection.query("""
                WITH input AS (SELECT * FROM unnest(\(ids)::bigint[], \(states)::text[], \(crashes)::int[], \(setError)::bool[],
                                                     \(why)::text[]) AS i(id, state, crashes, set_error, reason)),
                t AS (SELECT worker_micros() AS now),
                moved AS (
                    UPDATE jobs j SET state = i.state, crashes = i.crashes, updated_at = t.now,
                           last_error = CASE WHEN i.set_error THEN i.reason ELSE j.last_error END,
                           finished_at = CASE WHEN i.state <> 'interrupted' THEN t.now END
                    FROM input i, t WHERE j.id = i.id AND j.state = 'running'
                    RETURNING j.id, j.attempts, i.state, i.reason, t.now),
                events AS (
                    INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
                    SELECT id, now, 'running', state, attempts, \(recoverer), \(pid), reason FROM moved ORDER BY id),
                recorder AS (SELECT \(recoverer ?? ActivityRollup.recoveryWorker)::text AS id),
                \(unescaped: PGActivity.cte(state: "m.state", at: "m.now", worker: "r.id", from: "moved m, recorder r")),
                stopped AS (
                    UPDATE workers w SET stopped_at = t.now, stop_reason = s.reason
                    FROM unnest(\(workers)::text[], \(stopReasons)::text[]) AS s(id, reason), t
                    WHERE w.id = s.id AND w.stopped_at IS NULL)
                SELECT (SELECT count(*) FROM moved), pg_notify('worker_jobs', 'recovered')
                """, logger: logger).collect()
            let jobs = try await connection.query(
                "SELECT \(unescaped: Job.pgColumns) FROM \(unescaped: Job.pgFrom) WHERE jobs.id = ANY(\(ids)::bigint[]) ORDER BY jobs.id",
                logger: logger
            ).collect().map(Job.init(postgres:))
            return dead.map { worker in
                RecoveredWorker(
                    worker: worker.id, pid: worker.pid, reason: reasons[worker.id]!, jobs: jobs.filter { $0.workerID == worker.id })
            }
        }
    }
}
