import Foundation
import Schedules

/// The rules both stores apply to schedules, apart from their SQL: checking a definition, planning the ticks due
/// at a moment, and the texts of the records. The stores write what this decides in one transaction.
public enum ScheduleRules {
    /// How many recent events `schedule show` returns.
    public static let recentEvents = 50
    /// At most this late a tick still fires under every policy when the worker deciding it has been looking for
    /// that long: a tick that fell due while a worker ran is on time (however loaded the machine), while the ticks
    /// of an outage (before the worker started looking) are missed and get what the policy says.
    public static let maxLateness = Duration.seconds(60)

    /// How late a due tick may be and still count as on time for a caller ready to fire for `onTimeWithin`.
    public static func lateness(_ onTimeWithin: Duration) -> Duration {
        min(max(.zero, onTimeWithin), maxLateness)
    }

    /// Checks `definition` (names, payload, cron, time zone, window); returns its parsed expression and zone.
    /// Errors are `invalidArgument` (exit 64) or the payload's, each one line naming the value and the fix.
    @discardableResult
    public static func check(_ definition: ScheduleDefinition, maxPayloadBytes: Int) throws -> (CronExpression, TimeZone) {
        try Validation.name(definition.name, what: "schedule name")
        try Validation.jobs([job(definition)], maxPayloadBytes: maxPayloadBytes)
        let window = definition.catchUpWindow
        guard window >= .zero, window <= .seconds(366 * 86_400) else {
            throw JournalError(.invalidArgument, "catch-up window \(window.components.seconds) s is outside 0...31622400: pass a number of seconds up to a year")
        }
        let payload = Data(definition.payload.utf8)
        guard !definition.payload.contains("\0"), (try? JSONSerialization.jsonObject(with: payload, options: [.fragmentsAllowed])) != nil else {
            throw JournalError(.invalidPayload, Validation.invalidJSONMessage)
        }
        return (try expression(definition.cron), try timeZone(definition.timeZone))
    }

    /// The parsed cron expression, or `invalidArgument` with the parser's one-line reason.
    public static func expression(_ text: String) throws -> CronExpression {
        do {
            return try CronExpression(parsing: text)
        } catch {
            throw JournalError(.invalidArgument, "\(error): fix --cron (five fields, or six with seconds first; see docs/schedules.md)")
        }
    }

    /// The time zone named `name`, or `invalidArgument`.
    public static func timeZone(_ name: String) throws -> TimeZone {
        guard !name.isEmpty, let zone = TimeZone(identifier: name) else {
            throw JournalError(.invalidArgument, "unknown time zone '\(name.prefix(100))': pass an IANA name such as UTC or Europe/Paris")
        }
        return zone
    }

    /// The job a tick (or a manual run) of `definition` enqueues, through the same path as every enqueue.
    public static func job(_ definition: ScheduleDefinition) -> NewJob {
        NewJob(handler: definition.handler, payload: definition.payload, queue: definition.queue,
               priority: definition.priority, schedule: definition.name)
    }

    /// The first tick after `instant`, for a schedule added, replaced or resumed then.
    public static func nextTick(_ definition: ScheduleDefinition, after instant: Micros) throws -> Micros? {
        try expression(definition.cron).next(after: Date(micros: instant), in: try timeZone(definition.timeZone))?.micros
    }

    /// What the schedule does at `now`: the ticks due since its last decided tick, split by its policy.
    public static func plan(_ schedule: Schedule, now: Micros, onTimeWithin: Duration) throws -> TickDecision {
        let definition = schedule.definition
        let plan = TickPlan(
            expression: try expression(definition.cron), timeZone: try timeZone(definition.timeZone),
            lastTick: schedule.lastTick.map { Date(micros: $0) }, createdAt: Date(micros: schedule.createdAt),
            now: Date(micros: now), missed: definition.missed, catchUpWindow: definition.catchUpWindow,
            lateness: lateness(onTimeWithin))
        let fire = plan.fire.map(\.micros)
        let missedLast = plan.missed.last?.micros
        let decidedThrough = [fire.last, missedLast].compactMap { $0 }.max()
        return TickDecision(
            fire: fire, missedCount: plan.missed.count, missedFirst: plan.missed.first?.micros, missedLast: missedLast,
            decidedThrough: decidedThrough, next: plan.next?.micros, policy: definition.missed)
    }

    /// Which of `decision.fire` get a job under `--no-overlap`: none while the previous job is unfinished, else
    /// the first (its own job is then the unfinished one); all of them without it.
    public static func firing(_ decision: TickDecision, noOverlap: Bool, previousUnfinished: Bool) -> (fire: [Micros], skip: [Micros]) {
        guard noOverlap, !decision.fire.isEmpty else { return (decision.fire, []) }
        if previousUnfinished { return ([], decision.fire) }
        return ([decision.fire[0]], Array(decision.fire.dropFirst()))
    }

    /// The reason recorded on a fired tick.
    public static let firedReason = "tick"
    /// The reason recorded on a manual run asked for by `origin` ("run by operator").
    public static func manualReason(by origin: ChangeOrigin) -> String { "run by \(origin)" }

    /// The reason recorded on a tick skipped under `--no-overlap`.
    public static func skippedReason(previousJob: Int64?) -> String {
        "overlap: job \(previousJob.map(String.init) ?? "?") of the previous tick is unfinished (--no-overlap)"
    }

    /// The reason recorded on a missed range.
    public static func missedReason(_ decision: TickDecision) -> String {
        let first = decision.missedFirst.map(iso8601) ?? "?"
        let last = decision.missedLast.map(iso8601) ?? "?"
        let range = decision.missedCount == 1 ? "tick \(first)" : "\(decision.missedCount) ticks from \(first) to \(last)"
        return "\(range) missed while no worker ran (--missed \(decision.policy.rawValue))"
    }

    /// The error for a schedule that does not exist (exit 66).
    public static func notFound(_ name: String) -> JournalError {
        JournalError(.scheduleNotFound, "no schedule named '\(name.prefix(200))': list schedules with `worker schedule list`")
    }

    /// The error for `schedule add` of a name already taken (exit 65).
    public static func exists(_ name: String) -> JournalError {
        JournalError(.scheduleExists, "schedule '\(name.prefix(200))' already exists: pass --replace to change it, or remove it first with `worker schedule remove \(name.prefix(200))`")
    }
}

/// The ticks due at one moment, as `ScheduleRules.plan` split them.
public struct TickDecision: Sendable, Equatable {
    /// Ticks to enqueue a job for, oldest first (before `--no-overlap`).
    public var fire: [Micros]
    /// Due ticks that get no job: how many, the first and the last.
    public var missedCount: Int
    public var missedFirst: Micros?
    public var missedLast: Micros?
    /// The newest tick decided, the schedule's new `lastTick`; nil when nothing was due.
    public var decidedThrough: Micros?
    /// The next tick after now.
    public var next: Micros?
    public var policy: MissedTicks
}
