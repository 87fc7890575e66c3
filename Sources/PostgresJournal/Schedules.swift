import Foundation
import Logging
import PostgresNIO
import Schedules
import WorkerStore

extension PostgresJournal {
    /// Stores a new schedule, or with `replace` changes an existing one; see `JobStore.addSchedule`.
    public func addSchedule(_ definition: ScheduleDefinition, replace: Bool) async throws -> Schedule {
        try ScheduleRules.check(definition, maxPayloadBytes: options.maxPayloadBytes)
        let pid = options.pid
        let logger = self.logger
        return try await transaction("schedule-add") { connection in
            let now = try await PGSchedules.now(connection, logger: logger)
            let d = definition
            // The row lock (or the insert's) orders two adds of one name; the loser sees the winner's row.
            let existing = try await PGSchedules.fetch(connection, name: d.name, lock: true, logger: logger)
            if existing != nil, !replace { throw ScheduleRules.exists(d.name) }
            // A replaced schedule keeps its history, last tick and pause; its next tick is the new expression's
            // first after the last decided one (the planner decides from there).
            let next = try ScheduleRules.nextTick(d, after: existing.map { $0.lastTick ?? $0.createdAt } ?? now)
            let window = d.catchUpWindow.journalMilliseconds
            let priority = Int64(d.priority)
            // A name added by a concurrent `add` after the look above: replaced only with `replace`.
            var written = 0
            for try await _ in try await connection.query("""
                INSERT INTO schedules (name, handler, cron, timezone, payload, queue, priority, missed, catch_up_window_ms,
                                       no_overlap, created_at, updated_at, next_tick)
                VALUES (\(d.name), \(d.handler), \(d.cron), \(d.timeZone), \(d.payload), \(d.queue), \(priority)::integer,
                        \(d.missed.rawValue), \(window), \(d.noOverlap), \(now), \(now), \(next))
                ON CONFLICT (name) DO UPDATE SET handler = excluded.handler, cron = excluded.cron, timezone = excluded.timezone,
                    payload = excluded.payload, queue = excluded.queue, priority = excluded.priority, missed = excluded.missed,
                    catch_up_window_ms = excluded.catch_up_window_ms, no_overlap = excluded.no_overlap,
                    updated_at = excluded.updated_at, next_tick = excluded.next_tick
                WHERE \(replace)
                RETURNING 1
                """, logger: logger) {
                written += 1
            }
            guard written == 1 else { throw ScheduleRules.exists(d.name) }
            try await PGSchedules.record(
                connection, d.name, at: now, .changed, pid: pid,
                reason: existing == nil ? "added (cron \(d.cron), \(d.timeZone))" : "replaced (cron \(d.cron), \(d.timeZone))",
                logger: logger)
            return try await PGSchedules.require(connection, name: d.name, logger: logger)
        }
    }

    /// Every schedule, by name.
    public func schedules() async throws -> [Schedule] {
        try await rows("SELECT \(unescaped: PGSchedules.columns) FROM schedules ORDER BY name COLLATE \"C\"").map(PGSchedules.schedule)
    }

    /// One schedule with its recent events and totals.
    public func schedule(named name: String, recent limit: Int) async throws -> ScheduleDetail {
        let logger = self.logger
        let limit = Int64(limit)
        return try await withConnection { connection in
            let schedule = try await PGSchedules.require(connection, name: name, logger: logger)
            var recent: [ScheduleEvent] = []
            for try await row in try await connection.query("""
                SELECT \(unescaped: PGSchedules.eventColumns) FROM schedule_events
                WHERE schedule = \(name) AND at >= \(schedule.createdAt) ORDER BY id DESC LIMIT \(limit)
                """, logger: logger) {
                recent.append(try PGSchedules.event(row))
            }
            var totals: [ScheduleOutcome: Int] = [:]
            for try await (outcome, count) in try await connection.query("""
                SELECT outcome, sum(count)::bigint FROM schedule_events WHERE schedule = \(name) AND at >= \(schedule.createdAt)
                GROUP BY outcome
                """, logger: logger).decode((String, Int64).self) {
                if let outcome = ScheduleOutcome(rawValue: outcome) { totals[outcome] = Int(count) }
            }
            return ScheduleDetail(schedule: schedule, recent: recent, totals: totals)
        }
    }

    /// Stops a schedule firing until resumed.
    public func pauseSchedule(_ name: String) async throws -> Schedule {
        let pid = options.pid
        let logger = self.logger
        return try await transaction("schedule-pause") { connection in
            let schedule = try await PGSchedules.require(connection, name: name, lock: true, logger: logger)
            guard schedule.pausedAt == nil else { return schedule }
            let now = try await PGSchedules.now(connection, logger: logger)
            try await connection.query(
                "UPDATE schedules SET paused_at = \(now), updated_at = \(now) WHERE name = \(name)", logger: logger)
            try await PGSchedules.record(connection, name, at: now, .changed, pid: pid, reason: "paused by operator", logger: logger)
            return try await PGSchedules.require(connection, name: name, logger: logger)
        }
    }

    /// Lets a paused schedule fire again from its first tick after now: the ticks of the pause get nothing.
    public func resumeSchedule(_ name: String) async throws -> Schedule {
        let pid = options.pid
        let logger = self.logger
        return try await transaction("schedule-resume") { connection in
            let schedule = try await PGSchedules.require(connection, name: name, lock: true, logger: logger)
            guard schedule.pausedAt != nil else { return schedule }
            let now = try await PGSchedules.now(connection, logger: logger)
            let next = try ScheduleRules.nextTick(schedule.definition, after: now)
            try await connection.query("""
                UPDATE schedules SET paused_at = NULL, updated_at = \(now), last_tick = \(now), next_tick = \(next)
                WHERE name = \(name)
                """, logger: logger)
            try await PGSchedules.record(connection, name, at: now, .changed, pid: pid, reason: "resumed by operator", logger: logger)
            return try await PGSchedules.require(connection, name: name, logger: logger)
        }
    }

    /// Deletes a schedule; its events and jobs stay.
    public func removeSchedule(_ name: String) async throws {
        let pid = options.pid
        let logger = self.logger
        try await transaction("schedule-remove") { connection in
            _ = try await PGSchedules.require(connection, name: name, lock: true, logger: logger)
            let now = try await PGSchedules.now(connection, logger: logger)
            try await connection.query("DELETE FROM schedules WHERE name = \(name)", logger: logger)
            try await PGSchedules.record(connection, name, at: now, .changed, pid: pid, reason: "removed by operator", logger: logger)
        }
    }

    /// Enqueues one job of the schedule now, recorded as `manual` with a reason naming `origin`.
    public func runSchedule(_ name: String, by origin: ChangeOrigin) async throws -> Job {
        let options = self.options
        let logger = self.logger
        let job = try await transaction("schedule-run") { connection in
            let schedule = try await PGSchedules.require(connection, name: name, lock: true, logger: logger)
            let id = try await Self.enqueue([ScheduleRules.job(schedule.definition)], on: connection, options: options, logger: logger)[0].id
            let now = try await PGSchedules.now(connection, logger: logger)
            try await connection.query("UPDATE schedules SET last_job = \(id) WHERE name = \(name)", logger: logger)
            try await PGSchedules.record(
                connection, name, at: now, .manual, job: id, pid: options.pid, reason: ScheduleRules.manualReason(by: origin), logger: logger)
            return try await Job.require(connection, id: id, logger: logger)
        }
        announceNewWork()
        return job
    }

    /// Fires what is due; see `JobStore.fireDueSchedules`. The due schedules are locked `FOR UPDATE SKIP LOCKED`:
    /// a schedule another worker is firing is left to it, and one it fired is no longer due when read again.
    public func fireDueSchedules(worker: String?, onTimeWithin: Duration) async throws -> ScheduleRound {
        let options = self.options
        let logger = self.logger
        let due = try await rows("""
            SELECT worker_micros(), EXISTS (SELECT 1 FROM schedules WHERE paused_at IS NULL AND next_tick <= worker_micros()),
                   (SELECT min(next_tick) FROM schedules WHERE paused_at IS NULL)
            """)
        guard let first = due.first else { throw JournalError(.internalError, "the schedules' look returned no row") }
        let (looked, anyDue, nextTick) = try first.decode((Int64, Bool, Int64?).self)
        guard anyDue else { return ScheduleRound(firings: [], now: looked, nextTick: nextTick) }
        let round = try await transaction("schedule-fire") { connection in
            let now = try await PGSchedules.now(connection, logger: logger)
            var schedules: [Schedule] = []
            for try await row in try await connection.query("""
                SELECT \(unescaped: PGSchedules.columns) FROM schedules WHERE paused_at IS NULL AND next_tick <= \(now)
                ORDER BY name COLLATE "C" FOR UPDATE SKIP LOCKED
                """, logger: logger) {
                schedules.append(try PGSchedules.schedule(row))
            }
            var firings: [ScheduleFiring] = []
            for schedule in schedules {
                firings.append(try await PGSchedules.fire(
                    connection, schedule, now: now, onTimeWithin: onTimeWithin, worker: worker, options: options, logger: logger))
            }
            var next: Int64?
            for try await value in try await connection.query(
                "SELECT min(next_tick) FROM schedules WHERE paused_at IS NULL", logger: logger).decode(Int64?.self) {
                next = value
            }
            return ScheduleRound(firings: firings, now: now, nextTick: next)
        }
        if round.firings.contains(where: { !$0.fired.isEmpty }) { announceNewWork() }
        return round
    }
}

/// Reading and recording schedule rows.
enum PGSchedules {
    static let columns = """
        name, handler, cron, timezone, payload, queue, priority, missed, catch_up_window_ms, no_overlap, paused_at,
        created_at, updated_at, last_tick, last_job, next_tick
        """
    static let eventColumns = "id, schedule, at, outcome, tick, last_tick, count, job_id, worker_id, pid, reason"

    /// The server's clock.
    static func now(_ connection: PostgresConnection, logger: Logger) async throws -> Micros {
        for try await now in try await connection.query("SELECT worker_micros()", logger: logger).decode(Int64.self) {
            return now
        }
        throw JournalError(.internalError, "worker_micros() returned no row")
    }

    static func schedule(_ row: PostgresRow) throws -> Schedule {
        let (name, handler, cron, timeZone, payload, queue, priority, missedName, window, noOverlap, pausedAt, createdAt,
             updatedAt, lastTick, lastJob, nextTick) = try row.decode(
            (String, String, String, String, String, String, Int, String, Int64, Bool, Int64?, Int64, Int64, Int64?,
             Int64?, Int64?).self)
        guard let missed = MissedTicks(rawValue: missedName) else {
            throw JournalError(.corrupt, "schedule '\(name)' has unknown missed policy '\(missedName)'")
        }
        let definition = ScheduleDefinition(
            name: name, handler: handler, cron: cron, timeZone: timeZone, payload: payload, queue: queue, priority: priority,
            missed: missed, catchUpWindow: .milliseconds(window), noOverlap: noOverlap)
        return Schedule(
            definition: definition, pausedAt: pausedAt, createdAt: createdAt, updatedAt: updatedAt, lastTick: lastTick,
            lastJob: lastJob, nextTick: nextTick)
    }

    static func event(_ row: PostgresRow) throws -> ScheduleEvent {
        let (id, schedule, at, outcomeName, tick, lastTick, count, jobID, workerID, pid, reason) = try row.decode(
            (Int64, String, Int64, String, Int64?, Int64?, Int, Int64?, String?, Int32, String).self)
        guard let outcome = ScheduleOutcome(rawValue: outcomeName) else {
            throw JournalError(.corrupt, "schedule event \(id) has unknown outcome '\(outcomeName)'")
        }
        return ScheduleEvent(
            id: id, schedule: schedule, at: at, outcome: outcome, tick: tick, lastTick: lastTick, count: count, jobID: jobID,
            workerID: workerID, pid: pid, reason: reason)
    }

    static func fetch(_ connection: PostgresConnection, name: String, lock: Bool = false, logger: Logger) async throws -> Schedule? {
        let query: PostgresQuery = lock
            ? "SELECT \(unescaped: columns) FROM schedules WHERE name = \(name) FOR UPDATE"
            : "SELECT \(unescaped: columns) FROM schedules WHERE name = \(name)"
        for try await row in try await connection.query(query, logger: logger) { return try schedule(row) }
        return nil
    }

    static func require(_ connection: PostgresConnection, name: String, lock: Bool = false, logger: Logger) async throws -> Schedule {
        guard let schedule = try await fetch(connection, name: name, lock: lock, logger: logger) else {
            throw ScheduleRules.notFound(name)
        }
        return schedule
    }

    /// Appends one event. A tick already recorded for the schedule breaks the unique index: the transaction fails.
    static func record(
        _ connection: PostgresConnection, _ name: String, at: Micros, _ outcome: ScheduleOutcome, tick: Micros? = nil,
        lastTick: Micros? = nil, count: Int = 1, job: Int64? = nil, worker: String? = nil, pid: Int32, reason: String,
        logger: Logger
    ) async throws {
        let count = Int64(outcome == .changed ? 0 : count)
        try await connection.query("""
            INSERT INTO schedule_events (schedule, at, outcome, tick, last_tick, count, job_id, worker_id, pid, reason)
            VALUES (\(name), \(at), \(outcome.rawValue), \(tick), \(lastTick), \(count)::integer, \(job), \(worker), \(pid), \(reason))
            """, logger: logger)
    }

    /// Decides the due ticks of `schedule` (locked in this transaction) and writes the decision.
    static func fire(
        _ connection: PostgresConnection, _ schedule: Schedule, now: Micros, onTimeWithin: Duration, worker: String?, options: PostgresJournalOptions,
        logger: Logger
    ) async throws -> ScheduleFiring {
        let name = schedule.name
        let pid = options.pid
        let decision = try ScheduleRules.plan(schedule, now: now, onTimeWithin: onTimeWithin)
        var previousUnfinished = false
        if schedule.definition.noOverlap, let last = schedule.lastJob {
            for try await state in try await connection.query("SELECT state FROM jobs WHERE id = \(last)", logger: logger).decode(String.self) {
                previousUnfinished = JobState(rawValue: state).map { !$0.isFinished } ?? false
            }
        }
        let (fire, skip) = ScheduleRules.firing(decision, noOverlap: schedule.definition.noOverlap, previousUnfinished: previousUnfinished)
        var fired: [(tick: Micros, job: Int64)] = []
        if !fire.isEmpty {
            let jobs = Array(repeating: ScheduleRules.job(schedule.definition), count: fire.count)
            let ids = try await PostgresJournal.enqueue(jobs, on: connection, options: options, logger: logger).map(\.id)
            fired = zip(fire, ids).map { ($0, $1) }
        }
        if decision.missedCount > 0 {
            try await record(
                connection, name, at: now, .missed, tick: decision.missedFirst, lastTick: decision.missedLast,
                count: decision.missedCount, worker: worker, pid: pid, reason: ScheduleRules.missedReason(decision), logger: logger)
        }
        let skippedReason = ScheduleRules.skippedReason(previousJob: fired.first?.job ?? schedule.lastJob)
        for tick in skip {
            try await record(connection, name, at: now, .skipped, tick: tick, worker: worker, pid: pid, reason: skippedReason, logger: logger)
        }
        if !fired.isEmpty {
            // The fired ticks' records in one statement: a catch-up may fire a thousand.
            let ticks = fired.map(\.tick), ids = fired.map(\.job)
            try await connection.query("""
                INSERT INTO schedule_events (schedule, at, outcome, tick, last_tick, count, job_id, worker_id, pid, reason)
                SELECT \(name), \(now), 'fired', t.tick, NULL, 1, t.job, \(worker), \(pid), \(ScheduleRules.firedReason)
                FROM unnest(\(ticks)::bigint[], \(ids)::bigint[]) AS t(tick, job)
                """, logger: logger)
        }
        // Compare-and-set on the last tick: a writer that decided from another state changes nothing. (The row
        // lock already orders the deciders; the tick index refuses a tick decided twice in any case.)
        var updated = 0
        for try await _ in try await connection.query("""
            UPDATE schedules SET last_tick = coalesce(\(decision.decidedThrough), last_tick), next_tick = \(decision.next),
                                 last_job = coalesce(\(fired.last?.job), last_job)
            WHERE name = \(name) AND last_tick IS NOT DISTINCT FROM \(schedule.lastTick)
            RETURNING 1
            """, logger: logger) {
            updated += 1
        }
        guard updated == 1 else {
            throw JournalError(.busy, "schedule '\(name)' was fired by another worker meanwhile: look again")
        }
        return ScheduleFiring(schedule: name, fired: fired, skipped: skip, missed: decision.missedCount)
    }
}
