import WorkerStore
import GRDB
import Synchronization

extension Journal {
    /// Registers a live worker, which claims require, and takes its liveness lock (see `LivenessLocks`) before
    /// the row becomes visible: a peer that sees the worker sees its lock. The lock is held until `deregister`
    /// or the death of the process.
    public func register(_ worker: WorkerRegistration) async throws {
        let now = self.now
        try Validation.name(worker.id, what: "worker id")
        let liveness = self.liveness
        let slot = Mutex<Int64?>(nil)
        do {
            try await transaction("register") { db in
                try db.execute(
                    sql: """
                        INSERT INTO workers (id, pid, host, process_started_at, started_at, heartbeat_at, version)
                        VALUES (?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [worker.id, Int64(worker.pid), worker.host, worker.processStartedAt, now, now, worker.version])
                try liveness.hold(slot: db.lastInsertedRowID)
                slot.withLock { $0 = db.lastInsertedRowID }
                for handler in worker.handlers {
                    try db.execute(
                        sql: """
                            INSERT INTO served_handlers (handler, first_served_at, last_served_at) VALUES (?, ?, ?)
                            ON CONFLICT (handler) DO UPDATE SET last_served_at = excluded.last_served_at
                            """,
                        arguments: [handler, now, now])
                }
            }
        } catch {
            if let taken = slot.withLock({ $0 }) { liveness.release(slot: taken) }  // the row was rolled back
            throw error
        }
    }

    /// Records that a worker is alive now, and deletes the activity rollup's rows older than its retention.
    public func heartbeat(worker: String) async throws {
        let now = self.now
        try await transaction("heartbeat") { db in
            try db.execute(sql: "UPDATE workers SET heartbeat_at = ? WHERE id = ?", arguments: [now, worker])
            try ActivityRows.expire(db, at: now)
        }
    }

    /// Marks a worker stopped and gives its liveness lock back. It must hold no running job: interrupt or finish
    /// them first.
    public func deregister(worker: String, reason: String) async throws {
        let now = self.now
        let slot = try await transaction("deregister") { db -> Int64? in
            let running = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM jobs WHERE state = 'running' AND worker_id = ?", arguments: [worker]) ?? 0
            if running > 0 {
                throw JournalError(
                    .illegalTransition,
                    "worker \(worker) still holds \(running) running job(s): interrupt or finish them before deregistering")
            }
            try db.execute(
                sql: "UPDATE workers SET stopped_at = ?, stop_reason = ? WHERE id = ? AND stopped_at IS NULL",
                arguments: [now, reason, worker])
            return try Int64.fetchOne(db, sql: "SELECT rowid FROM workers WHERE id = ?", arguments: [worker])
        }
        if let slot { liveness.release(slot: slot) }
    }

    /// Workers other than `except` that are registered live or hold running jobs, and whose liveness lock no
    /// process holds: they are dead, for certain. A worker that holds jobs but has no row never registered, so
    /// it cannot be alive.
    public func deadWorkers(except: String?) async throws -> [(id: String, pid: Int32?)] {
        let liveness = self.liveness
        return try await read { db in try Self.deadWorkers(db, except: except, liveness: liveness) }
    }

    private static func deadWorkers(_ db: Database, except: String?, liveness: LivenessLocks) throws -> [(id: String, pid: Int32?)] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT holders.id, workers.rowid AS slot, workers.pid
            FROM (SELECT id FROM workers WHERE stopped_at IS NULL
                  UNION SELECT worker_id FROM jobs WHERE state = 'running' AND worker_id IS NOT NULL) AS holders
            LEFT JOIN workers ON workers.id = holders.id
            ORDER BY holders.id
            """)
        var dead: [(id: String, pid: Int32?)] = []
        for row in rows {
            let id: String = try row.decode(forColumn: "id")
            guard id != except else { continue }
            if let slot: Int64 = try row.decode(forColumn: "slot"), try liveness.isHeld(slot: slot) { continue }
            dead.append((id: id, pid: try row.decode(Int64?.self, forColumn: "pid").map { Int32(truncatingIfNeeded: $0) }))
        }
        return dead
    }

    /// How many registered workers are alive (their liveness lock is held), on every host that shares the file.
    public func liveWorkerCount() async throws -> Int {
        let liveness = self.liveness
        return try await read { db in
            try Int64.fetchAll(db, sql: "SELECT rowid FROM workers WHERE stopped_at IS NULL").filter { try liveness.isHeld(slot: $0) }.count
        }
    }

    /// Those of `handlers` that no worker has ever served on this journal, or nil when no worker has served any
    /// handler yet (a new journal: nothing to compare with).
    public func unservedHandlers(among handlers: [String]) async throws -> [String]? {
        try await read { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM served_handlers)") == true else { return nil }
            return try Set(handlers).sorted().filter { handler in
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM served_handlers WHERE handler = ?)", arguments: [handler]) != true
            }
        }
    }

    /// Whether `worker` is registered and its process alive (its liveness lock is held).
    public func isLive(worker: String) async throws -> Bool {
        let liveness = self.liveness
        return try await read { db in
            guard let slot = try Int64.fetchOne(
                db, sql: "SELECT rowid FROM workers WHERE id = ? AND stopped_at IS NULL", arguments: [worker]) else { return false }
            return try liveness.isHeld(slot: slot)
        }
    }

    /// Workers registered and not stopped.
    public func liveWorkers() async throws -> [WorkerRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM workers WHERE stopped_at IS NULL ORDER BY started_at").map { try WorkerRecord(row: $0) }
        }
    }

    /// Finds the workers whose process died and recovers the jobs they held (see `JobStore.recoverDeadWorkers`).
    /// A read looks for candidates first, so a beat with none writes nothing; the write transaction then decides
    /// again under the write lock, so liveness and recovery are one decision.
    public func recoverDeadWorkers(recoverer: String?, maxCrashes: Int) async throws -> [RecoveredWorker] {
        guard try await !deadWorkers(except: recoverer).isEmpty else { return [] }
        let now = self.now
        let pid = options.pid
        let liveness = self.liveness
        return try await transaction("recover") { db in
            try Self.deadWorkers(db, except: recoverer, liveness: liveness).map { dead in
                let reason = RecoveryTransition.died(worker: dead.id, pid: dead.pid)
                let jobs = try Self.recover(
                    db, deadWorker: dead.id, by: recoverer, reason: reason, maxCrashes: maxCrashes, now: now, pid: pid)
                return RecoveredWorker(worker: dead.id, pid: dead.pid, reason: reason, jobs: jobs)
            }
        }
    }

    /// Recovers the jobs a dead worker held `running`: each becomes `interrupted` (the attempt stays counted and
    /// a crash is recorded), or `dead` once `maxCrashes` workers have died under it, or `cancelled` when an operator
    /// had asked to cancel it (the worker died before acting on it). Marks the worker stopped.
    ///
    /// The caller must know the worker is dead (`deadWorkers`); this never checks liveness itself.
    public func recoverOrphans(
        of deadWorker: String, by recoverer: String?, reason: String, maxCrashes: Int = 3
    ) async throws -> [Job] {
        let now = self.now
        let pid = options.pid
        return try await transaction("recover") { db in
            try Self.recover(db, deadWorker: deadWorker, by: recoverer, reason: reason, maxCrashes: maxCrashes, now: now, pid: pid)
        }
    }

    private static func recover(
        _ db: Database, deadWorker: String, by recoverer: String?, reason: String, maxCrashes: Int, now: Micros, pid: Int32
    ) throws -> [Job] {
        let rows = try Row.fetchAll(
            db, sql: "SELECT id, attempts, crashes, cancel_requested_at FROM jobs WHERE state = 'running' AND worker_id = ? ORDER BY id",
            arguments: [deadWorker])
        var recovered: [Job] = []
        var targets: [JobState] = []
        for row in rows {
            let id: Int64 = try row.decode(forColumn: "id")
            let attempts: Int = try row.decode(forColumn: "attempts")
            let change = RecoveryTransition(
                reason: reason, crashes: try row.decode(forColumn: "crashes"),
                cancelRequested: try row.decode(Micros?.self, forColumn: "cancel_requested_at") != nil, maxCrashes: maxCrashes)
            let (target, why) = (change.target, change.reason)
            try db.execute(
                sql: """
                    UPDATE jobs SET state = ?, crashes = ?, updated_at = ?, last_error = CASE WHEN ? THEN ? ELSE last_error END,
                           finished_at = CASE WHEN ? THEN ? ELSE NULL END
                    WHERE id = ?
                    """,
                arguments: [target.rawValue, change.crashes, now, change.setsLastError, why, target != .interrupted, now, id])
            try Events.append(
                db, jobID: id, at: now, from: .running, to: target, attempt: attempts, worker: recoverer, pid: pid,
                reason: why)
            recovered.append(try Job.require(db, id: id))
            targets.append(target)
        }
        try ActivityRows.add(
            db, ActivityRollup.Counts(states: targets), worker: recoverer ?? ActivityRollup.recoveryWorker, at: now)
        try db.execute(
            sql: "UPDATE workers SET stopped_at = ?, stop_reason = ? WHERE id = ? AND stopped_at IS NULL",
            arguments: [now, RecoveryTransition.stopReason(reason), deadWorker])
        return recovered
    }
}

extension WorkerRecord {
    init(row: Row) throws {
        self.init(
            registration: WorkerRegistration(
                id: try row.decode(forColumn: "id"), pid: Int32(truncatingIfNeeded: try row.decode(Int64.self, forColumn: "pid")),
                host: try row.decode(forColumn: "host"), processStartedAt: try row.decode(forColumn: "process_started_at"),
                version: try row.decode(forColumn: "version")),
            startedAt: try row.decode(forColumn: "started_at"), heartbeatAt: try row.decode(forColumn: "heartbeat_at"),
            stoppedAt: try row.decode(forColumn: "stopped_at"), stopReason: try row.decode(forColumn: "stop_reason"))
    }
}
