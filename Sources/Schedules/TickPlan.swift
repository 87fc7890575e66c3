import Foundation

/// What a schedule does at one moment: the ticks to fire now, the ticks it missed, and when to look next.
///
/// Pure: the caller supplies the last tick it recorded and the time, and writes the jobs and journal events (a
/// tick's job and the tick's unique row in one transaction). Asking again with the same inputs gives the same
/// plan, so two workers planning at once agree on the ticks and the store's uniqueness settles who writes them.
///
/// The due ticks are the cron ticks strictly after `lastTick` (or after `createdAt` when the schedule never
/// ticked) up to and including `now`. A due tick at most `lateness` before `now` is on time and fires under every
/// policy; the others are missed and the policy decides (``MissedTicks``). Whatever the policy, the fired ticks
/// are the newest due ones and the missed ones all older, at most `limit` fire, and older ticks beyond the limit
/// are missed.
///
/// The cost is bounded by the days the outage covers, never by its ticks: a per-second schedule down for ten years
/// is planned with an exact missed count in about a millisecond (counts are per day; the newest ticks are found by
/// bisection).
public struct TickPlan: Sendable, Equatable {
    /// The ticks to enqueue a job for now, oldest first.
    public var fire: [Date]
    /// The due ticks that get no job.
    public var missed: MissedTickSummary
    /// The first tick after `now` (and after `lastTick`), when the schedule should be planned again.
    public var next: Date?

    /// How late a tick may be seen and still count as on time: the default 2 s covers a worker that looks every
    /// second and is delayed by a loaded machine. A caller that looks less often should pass its interval plus
    /// that slack, or it will record ticks as missed while it ran.
    public static let defaultLateness = Duration.seconds(2)
    /// At most this many jobs from one plan (the bound on a catch-up).
    public static let defaultLimit = 1_000
    /// At most this many missed ticks listed one by one (the count is always exact).
    public static let defaultMissedListLimit = 100

    /// Plans `expression` in `timeZone` at `now`; see the type's documentation for the rules.
    public init(
        expression: CronExpression, timeZone: TimeZone, lastTick: Date?, createdAt: Date, now: Date,
        missed policy: MissedTicks, catchUpWindow: Duration, lateness: Duration = TickPlan.defaultLateness,
        limit: Int = TickPlan.defaultLimit, missedListLimit: Int = TickPlan.defaultMissedListLimit
    ) {
        let after = lastTick ?? createdAt
        next = expression.next(after: max(now, after), in: timeZone)
        guard let from = CronExpression.firstWholeSecond(after: after),
              let through = CronExpression.lastWholeSecond(atOrBefore: now), from <= through
        else {
            fire = []
            missed = .none
            return
        }
        // Ticks are whole seconds, so "at most d before now" is "at or after the first whole second ≥ now - d".
        let onTime = Self.firstWholeSecond(atOrAfter: now, minus: lateness)
        var cutoff: Int
        switch policy {
        case .skip:
            cutoff = onTime
        case .all:
            cutoff = min(onTime, Self.firstWholeSecond(atOrAfter: now, minus: catchUpWindow))
        case .latest:
            if expression.firstTick(from: max(from, onTime), through: through, in: timeZone) != nil {
                cutoff = onTime
            } else {
                cutoff = expression.lastTick(from: from, through: through, in: timeZone) ?? through + 1
            }
        }
        cutoff = max(cutoff, from)
        let limit = max(limit, 0)  // a limit of 0 fires nothing: every due tick is missed
        if cutoff <= through, expression.countTicks(from: cutoff, through: through, in: timeZone) > limit {
            cutoff = expression.startOfNewest(limit, from: cutoff, through: through, in: timeZone)
        }
        fire = expression.ticks(from: cutoff, through: through, in: timeZone, limit: limit).map(Date.init(seconds:))
        missed = Self.summary(of: expression, from: from, through: cutoff - 1, in: timeZone, listLimit: missedListLimit)
    }

    /// The ticks in `from...through`, counted and bounded.
    private static func summary(
        of expression: CronExpression, from: Int, through: Int, in zone: TimeZone, listLimit: Int
    ) -> MissedTickSummary {
        guard from <= through, let first = expression.firstTick(from: from, through: through, in: zone) else {
            return .none
        }
        return MissedTickSummary(
            count: expression.countTicks(from: first, through: through, in: zone),
            first: Date(seconds: first),
            last: expression.lastTick(from: first, through: through, in: zone).map(Date.init(seconds:)),
            listed: expression.ticks(from: first, through: through, in: zone, limit: max(listLimit, 0))
                .map(Date.init(seconds:))
        )
    }

    /// The first whole second at or after `instant - duration` (a negative duration counts as zero), clamped to
    /// the instants the search handles.
    private static func firstWholeSecond(atOrAfter instant: Date, minus duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let length = max(0, Double(seconds) + Double(attoseconds) / 1e18)
        let earliest = (instant.timeIntervalSince1970 - length).rounded(.up)
        let range = CronExpression.instantRange
        if !(earliest >= Double(range.lowerBound)) { return range.lowerBound }
        return earliest > Double(range.upperBound) ? range.upperBound : Int(earliest)
    }
}
