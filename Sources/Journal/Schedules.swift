import Foundation
import GRDB
import Schedules
import WorkerStore

extension Journal {
    /// Stores a new schedule, or with `replace` changes an existing one; see `JobStore.addSchedule`.
    public func addSchedule(_ definition: ScheduleDefinition, replace: Bool) async throws -> Schedule {
        try ScheduleRules.check(definition, maxPayloadBytes: options.maxPayloadBytes)
        let now = self.now
        let pid = options.pid
        return try await transaction("schedule-add") { db in
            let existing = try ScheduleRows.fetch(db, name: definition.name)
            if existing != nil, !replace { throw ScheduleRules.exists(definition.name) }
            let next = try ScheduleRules.nextTick(definition, after: existing.map { $0.lastTick ?? $0.createdAt } ?? now)
            let d = definition
            let values: StatementArguments = [
                d.name, d.handler, d.cron, d.timeZone, d.payload, d.queue, d.priority, d.missed.rawValue,
                d.catchUpWindow.journalMilliseconds, d.noOverlap, now, next,
            ]
            // A replaced schedule keeps its history, last tick and pause; its next tick is the new expression's
            // first after the last decided one (the planner decides from there).
            try db.execute(sql: """
                INSERT INTO schedules (name, handler, cron, timezone, payload, queue, priority, missed, catch_up_window_ms,
                                       no_overlap, created_at, updated_at, next_tick)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12)
                ON CONFLICT (name) DO UPDATE SET handler = ?2, cron = ?3, timezone = ?4, payload = ?5, queue = ?6,
                    priority = ?7, missed = ?8, catch_up_window_ms = ?9, no_overlap = ?10, updated_at = ?11, next_tick = ?12
                """, arguments: values)
            try ScheduleRows.record(
                db, d.name, at: now, .changed, pid: pid,
                reason: existing == nil ? "added (cron \(d.cron), \(d.timeZone))" : "replaced (cron \(d.cron), \(d.timeZone))")
            return try ScheduleRows.require(db, name: d.name)
        }
    }

    /// Every schedule, by name.
    public func schedules() async throws -> [Schedule] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(ScheduleRows.columns) FROM schedules ORDER BY name").map(ScheduleRows.schedule)
        }
    }

    /// One schedule with its recent events and totals.
    public func schedule(named name: String, recent limit: Int) async throws -> ScheduleDetail {
        try await read { db in
            let schedule = try ScheduleRows.require(db, name: name)
            let recent = try Row.fetchAll(db, sql: """
                SELECT \(ScheduleRows.eventColumns) FROM schedule_events WHERE schedule = ? AND at >= ? ORDER BY id DESC LIMIT ?
                """, arguments: [name, schedule.createdAt, limit]).map(ScheduleRows.event)
            var totals: [ScheduleOutcome: Int] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT outcome, sum(count) FROM schedule_events WHERE schedule = ? AND at >= ? GROUP BY outcome
                """, arguments: [name, schedule.createdAt]) {
                if let outcome = ScheduleOutcome(rawValue: try row.decode(atIndex: 0)) { totals[outcome] = try row.decode(atIndex: 1) }
            }
            return ScheduleDetail(schedule: schedule, recent: recent, totals: totals)
        }
    }

    /// Stops a schedule firing until resumed.
    public func pauseSchedule(_ name: String) async throws -> Schedule {
        let now = self.now
        let pid = options.pid
        return try await transaction("schedule-pause") { db in
            let schedule = try ScheduleRows.require(db, name: name)
            guard schedule.pausedAt == nil else { return schedule }
            try db.execute(sql: "UPDATE schedules SET paused_at = ?, updated_at = ? WHERE name = ?", arguments: [now, now, name])
            try ScheduleRows.record(db, name, at: now, .changed, pid: pid, reason: "paused by operator")
            return try ScheduleRows.require(db, name: name)
        }
    }

    /// Lets a paused schedule fire again from its first tick after now: the ticks of the pause get nothing.
    public func resumeSchedule(_ name: String) async throws -> Schedule {
        let now = self.now
        let pid = options.pid
        return try await transaction("schedule-resume") { db in
            let schedule = try ScheduleRows.require(db, name: name)
            guard schedule.pausedAt != nil else { return schedule }
            let next = try ScheduleRules.nextTick(schedule.definition, after: now)
            try db.execute(sql: """
                UPDATE schedules SET paused_at = NULL, updated_at = ?1, last_tick = ?1, next_tick = ?2 WHERE name = ?3
                """, arguments: [now, next, name])
            try ScheduleRows.record(db, name, at: now, .changed, pid: pid, reason: "resumed by operator")
            return try ScheduleRows.require(db, name: name)
        }
    }

    /// Deletes a schedule; its events and jobs stay.
    public func removeSchedule(_ name: String) async throws {
        let now = self.now
        let pid = options.pid
        try await transaction("schedule-remove") { db in
            _ = try ScheduleRows.require(db, name: name)
            try db.execute(sql: "DELETE FROM schedules WHERE name = ?", arguments: [name])
            try ScheduleRows.record(db, name, at: now, .changed, pid: pid, reason: "removed by operator")
        }
    }

    /// Enqueues one job of the schedule now, recorded as `manual` with a reason naming `origin`.
    public func runSchedule(_ name: String, by origin: ChangeOrigin) async throws -> Job {
        let now = self.now
        let pid = options.pid
        let maxAttempts = options.defaultMaxAttempts
        let job = try await transaction("schedule-run") { db in
            let schedule = try ScheduleRows.require(db, name: name)
            let context = EnqueueContext(
                jobs: [ScheduleRules.job(schedule.definition)], now: now, pid: pid, defaultMaxAttempts: maxAttempts)
            let id = try context.insert(db)[0].id
            try db.execute(sql: "UPDATE schedules SET last_job = ? WHERE name = ?", arguments: [id, name])
            try ScheduleRows.record(db, name, at: now, .manual, job: id, pid: pid, reason: ScheduleRules.manualReason(by: origin))
            return try Job.require(db, id: id)
        }
        announceNewWork()
        return job
    }

    /// Fires what is due; see `JobStore.fireDueSchedules`. A read finds whether anything is due, so that workers
    /// with nothing to fire do not take the write lock.
    public func fireDueSchedules(worker: String?, onTimeWithin: Duration) async throws -> ScheduleRound {
        let looked = self.now
        let due = try await read { db in
            (try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM schedules WHERE paused_at IS NULL AND next_tick <= ?)", arguments: [looked]) ?? false,
             try Int64.fetchOne(db, sql: "SELECT min(next_tick) FROM schedules WHERE paused_at IS NULL")) as (Bool, Int64?)
        }
        guard due.0 else { return ScheduleRound(firings: [], now: looked, nextTick: due.1) }
        let now = self.now
        let pid = options.pid
        let maxAttempts = options.defaultMaxAttempts
        let round = try await transaction("schedule-fire") { db in
            var firings: [ScheduleFiring] = []
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(ScheduleRows.columns) FROM schedules WHERE paused_at IS NULL AND next_tick <= ? ORDER BY name
                """, arguments: [now])
            for schedule in try rows.map(ScheduleRows.schedule) {
                firings.append(try Self.fire(db, schedule, now: now, onTimeWithin: onTimeWithin, worker: worker, pid: pid, maxAttempts: maxAttempts))
            }
            let next = try Int64.fetchOne(db, sql: "SELECT min(next_tick) FROM schedules WHERE paused_at IS NULL")
            return ScheduleRound(firings: firings, now: now, nextTick: next)
        }
        if round.firings.contains(where: { !$0.fired.isEmpty }) { announceNewWork() }
        return round
    }

    /// Decides the due ticks of `schedule` (read in this transaction) and writes the decision.
    private static func fire(
        _ db: Database, _ schedule: Schedule, now: Micros, onTimeWithin: Duration, worker: String?, pid: Int32, maxAttempts: Int
    ) throws -> ScheduleFiring {
        let name = schedule.name
        let decision = try ScheduleRules.plan(schedule, now: now, onTimeWithin: onTimeWithin)
        var previousUnfinished = false
        if schedule.definition.noOverlap, let last = schedule.lastJob {
            let state = try String.fetchOne(db, sql: "SELECT state FROM jobs WHERE id = ?", arguments: [last])
            previousUnfinished = state.flatMap(JobState.init(rawValue:)).map { !$0.isFinished } ?? false
        }
        let (fire, skip) = ScheduleRules.firing(decision, noOverlap: schedule.definition.noOverlap, previousUnfinished: previousUnfinished)
        var fired: [(tick: Micros, job: Int64)] = []
        if !fire.isEmpty {
            let job = ScheduleRules.job(schedule.definition)
            let context = EnqueueContext(
                jobs: Array(repeating: job, count: fire.count), now: now, pid: pid, defaultMaxAttempts: maxAttempts)
            fired = zip(fire, try context.insert(db).map(\.id)).map { ($0, $1) }
        }
        if decision.missedCount > 0 {
            try ScheduleRows.record(
                db, name, at: now, .missed, tick: decision.missedFirst, lastTick: decision.missedLast,
                count: decision.missedCount, worker: worker, pid: pid, reason: ScheduleRules.missedReason(decision))
        }
        let skippedReason = ScheduleRules.skippedReason(previousJob: fired.first?.job ?? schedule.lastJob)
        for tick in skip {
            try ScheduleRows.record(db, name, at: now, .skipped, tick: tick, worker: worker, pid: pid, reason: skippedReason)
        }
        for (tick, job) in fired {
            try ScheduleRows.record(db, name, at: now, .fired, tick: tick, job: job, worker: worker, pid: pid, reason: ScheduleRules.firedReason)
        }
        // Compare-and-set on the last tick: a writer that decided from another state changes nothing. (The write
        // lock already serializes the deciders; the tick index refuses a tick decided twice in any case.)
        try db.execute(
            literal: """
                UPDATE schedules SET last_tick = coalesce(\(decision.decidedThrough), last_tick), next_tick = \(decision.next),
                                     last_job = coalesce(\(fired.last?.job), last_job)
                WHERE name = \(name) AND last_tick IS \(schedule.lastTick)
                """)
        guard db.changesCount == 1 else {
            throw JournalError(.busy, "schedule '\(name)' was fired by another worker meanwhile: look again")
        }
        return ScheduleFiring(schedule: name, fired: fired, skipped: skip, missed: decision.missedCount)
    }
}

/// Reading and recording schedule rows.
enum ScheduleRows {
    static let columns = """
        name, handler, cron, timezone, payload, queue, priority, missed, catch_up_window_ms, no_overlap, paused_at,
        created_at, updated_at, last_tick, last_job, next_tick
        """
    static let eventColumns = "id, schedule, at, outcome, tick, last_tick, count, job_id, worker_id, pid, reason"

    static func schedule(_ row: Row) throws -> Schedule {
        let name: String = try row.decode(atIndex: 0)
        let missedName: String = try row.decode(atIndex: 7)
        guard let missed = MissedTicks(rawValue: missedName) else {
            throw JournalError(.corrupt, "schedule '\(name)' has unknown missed policy '\(missedName)'")
        }
        let definition = ScheduleDefinition(
            name: name, handler: try row.decode(atIndex: 1), cron: try row.decode(atIndex: 2),
            timeZone: try row.decode(atIndex: 3), payload: try row.decode(atIndex: 4), queue: try row.decode(atIndex: 5),
            priority: try row.decode(atIndex: 6), missed: missed,
            catchUpWindow: .milliseconds(try row.decode(Int64.self, atIndex: 8)), noOverlap: try row.decode(atIndex: 9))
        return Schedule(
            definition: definition, pausedAt: try row.decode(atIndex: 10), createdAt: try row.decode(atIndex: 11),
            updatedAt: try row.decode(atIndex: 12), lastTick: try row.decode(atIndex: 13), lastJob: try row.decode(atIndex: 14),
            nextTick: try row.decode(atIndex: 15))
    }

    static func event(_ row: Row) throws -> ScheduleEvent {
        let outcomeName: String = try row.decode(atIndex: 3)
        guard let outcome = ScheduleOutcome(rawValue: outcomeName) else {
            throw JournalError(.corrupt, "schedule event \(try row.decode(Int64.self, atIndex: 0)) has unknown outcome '\(outcomeName)'")
        }
        return ScheduleEvent(
            id: try row.decode(atIndex: 0), schedule: try row.decode(atIndex: 1), at: try row.decode(atIndex: 2),
            outcome: outcome, tick: try row.decode(atIndex: 4), lastTick: try row.decode(atIndex: 5),
            count: try row.decode(atIndex: 6), jobID: try row.decode(atIndex: 7), workerID: try row.decode(atIndex: 8),
            pid: try row.decode(atIndex: 9), reason: try row.decode(atIndex: 10))
    }

    static func fetch(_ db: Database, name: String) throws -> Schedule? {
        try Row.fetchOne(db, sql: "SELECT \(columns) FROM schedules WHERE name = ?", arguments: [name]).map(schedule)
    }

    static func require(_ db: Database, name: String) throws -> Schedule {
        guard let schedule = try fetch(db, name: name) else { throw ScheduleRules.notFound(name) }
        return schedule
    }

    /// Appends one event. A tick already recorded for the schedule breaks the unique index: the transaction fails.
    static func record(
        _ db: Database, _ name: String, at: Micros, _ outcome: ScheduleOutcome, tick: Micros? = nil, lastTick: Micros? = nil,
        count: Int = 1, job: Int64? = nil, worker: String? = nil, pid: Int32, reason: String
    ) throws {
        try db.execute(sql: """
            INSERT INTO schedule_events (schedule, at, outcome, tick, last_tick, count, job_id, worker_id, pid, reason)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [name, at, outcome.rawValue, tick, lastTick, outcome == .changed ? 0 : count, job, worker, Int64(pid), reason])
    }
}
