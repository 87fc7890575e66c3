import Foundation
import Schedules

/// A durable schedule as an operator defines it (`worker schedule add`): which job to enqueue at each tick of a
/// cron expression in a time zone, and what to do with ticks missed while no worker ran.
public struct ScheduleDefinition: Sendable, Equatable {
    /// Unique among schedules; the jobs it fires carry it in `Job.schedule`.
    public var name: String
    /// The handler of the jobs it fires (no loaded plugin need provide it: its jobs then wait).
    public var handler: String
    /// The cron expression as given: five fields, or six with seconds first, or an `@hourly`-style name.
    public var cron: String
    /// An IANA time zone name (`Europe/Paris`, `UTC`): the ticks are the cron times on its wall clocks.
    public var timeZone: String
    /// The payload of every job it fires (JSON).
    public var payload: String
    public var queue: String
    public var priority: Int
    /// What ticks missed while no worker ran get.
    public var missed: MissedTicks
    /// With `missed == .all`: how far back missed ticks still get a job.
    public var catchUpWindow: Duration
    /// Skip a tick while the job of the schedule's previous tick is unfinished.
    public var noOverlap: Bool

    /// The default catch-up window: one hour.
    public static let defaultCatchUpWindow = Duration.seconds(3600)

    /// A definition with its fields.
    public init(
        name: String, handler: String, cron: String, timeZone: String = "UTC", payload: String = "{}",
        queue: String = "default", priority: Int = 0, missed: MissedTicks = .default,
        catchUpWindow: Duration = ScheduleDefinition.defaultCatchUpWindow, noOverlap: Bool = false
    ) {
        self.name = name
        self.handler = handler
        self.cron = cron
        self.timeZone = timeZone
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.missed = missed
        self.catchUpWindow = catchUpWindow
        self.noOverlap = noOverlap
    }
}

/// A stored schedule: its definition and where it stands.
public struct Schedule: Sendable {
    public var definition: ScheduleDefinition
    public var name: String { definition.name }
    /// When it was paused; nil while active.
    public var pausedAt: Micros?
    public var createdAt: Micros
    public var updatedAt: Micros
    /// The newest tick decided (fired, skipped or missed); nil before the first. Ticks after it are still to decide.
    public var lastTick: Micros?
    /// The job of its most recent fire (or manual run).
    public var lastJob: Int64?
    /// The next tick it fires at; nil when the expression has no more ticks.
    public var nextTick: Micros?

    public init(
        definition: ScheduleDefinition, pausedAt: Micros?, createdAt: Micros, updatedAt: Micros, lastTick: Micros?,
        lastJob: Int64?, nextTick: Micros?
    ) {
        self.definition = definition
        self.pausedAt = pausedAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.lastTick = lastTick
        self.lastJob = lastJob
        self.nextTick = nextTick
    }
}

/// What happened at a tick (or to the schedule), as its record says.
public enum ScheduleOutcome: String, Sendable, CaseIterable {
    /// A job was enqueued for the tick.
    case fired
    /// The tick got no job: the previous job was unfinished (`--no-overlap`); the reason says which.
    case skipped
    /// Ticks that fell due while no worker ran and that the missed policy gave no job: a range with a count.
    case missed
    /// An operator's `schedule run`: a job now, outside the ticks.
    case manual
    /// Added, replaced, paused, resumed or removed by an operator (the reason says which).
    case changed
}

/// One record of a schedule's history (append-only).
public struct ScheduleEvent: Sendable, Equatable {
    public var id: Int64
    public var schedule: String
    /// When it was recorded (the store's clock).
    public var at: Micros
    public var outcome: ScheduleOutcome
    /// The tick (the first of a missed range); nil for `manual` and `changed`.
    public var tick: Micros?
    /// The last tick of a missed range.
    public var lastTick: Micros?
    /// How many ticks it stands for (a missed range: all of them).
    public var count: Int
    /// The job enqueued (fired, manual).
    public var jobID: Int64?
    public var workerID: String?
    public var pid: Int32
    public var reason: String

    public init(
        id: Int64, schedule: String, at: Micros, outcome: ScheduleOutcome, tick: Micros?, lastTick: Micros?, count: Int,
        jobID: Int64?, workerID: String?, pid: Int32, reason: String
    ) {
        self.id = id
        self.schedule = schedule
        self.at = at
        self.outcome = outcome
        self.tick = tick
        self.lastTick = lastTick
        self.count = count
        self.jobID = jobID
        self.workerID = workerID
        self.pid = pid
        self.reason = reason
    }
}

/// A schedule with its recent history and its totals, for `schedule show`.
public struct ScheduleDetail: Sendable {
    public var schedule: Schedule
    /// The most recent events, newest first.
    public var recent: [ScheduleEvent]
    /// Ticks per outcome since the schedule was added (a missed range counts all its ticks).
    public var totals: [ScheduleOutcome: Int]

    public init(schedule: Schedule, recent: [ScheduleEvent], totals: [ScheduleOutcome: Int]) {
        self.schedule = schedule
        self.recent = recent
        self.totals = totals
    }
}

/// What one fire transaction decided for one schedule.
public struct ScheduleFiring: Sendable, Equatable {
    public var schedule: String
    /// The ticks that got a job, with the job, oldest first.
    public var fired: [(tick: Micros, job: Int64)]
    /// Ticks skipped because the previous job was unfinished.
    public var skipped: [Micros]
    /// Ticks missed (exact count).
    public var missed: Int

    public init(schedule: String, fired: [(tick: Micros, job: Int64)], skipped: [Micros], missed: Int) {
        self.schedule = schedule
        self.fired = fired
        self.skipped = skipped
        self.missed = missed
    }

    public static func == (lhs: ScheduleFiring, rhs: ScheduleFiring) -> Bool {
        lhs.schedule == rhs.schedule && lhs.fired.map(\.tick) == rhs.fired.map(\.tick)
            && lhs.fired.map(\.job) == rhs.fired.map(\.job) && lhs.skipped == rhs.skipped && lhs.missed == rhs.missed
    }
}

/// What a look at the schedules found: the fires it made, the store's time, and the earliest next tick of the
/// active schedules (when to look again).
public struct ScheduleRound: Sendable {
    public var firings: [ScheduleFiring]
    /// The store's clock when it looked.
    public var now: Micros
    /// The earliest next tick of an active schedule, if any.
    public var nextTick: Micros?

    public init(firings: [ScheduleFiring], now: Micros, nextTick: Micros?) {
        self.firings = firings
        self.now = now
        self.nextTick = nextTick
    }
}
