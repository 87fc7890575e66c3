import Foundation

/// A stretch of time during which a time zone keeps one UTC offset, with the offset it had before.
///
/// Within a span the wall clock is the instant plus the offset, so a cron search there is a civil search; the
/// daylight-saving rules only act at a span's start: a gap (the clock jumped forward) or a repeat (it went back).
struct OffsetSpan {
    /// The transition that began the span, in whole seconds since 1970; nil when none happened in the two days
    /// before the instant the search started from (older ones cannot affect it: gaps and repeats are shorter).
    var start: Int?
    /// The next transition, which ends the span; nil when the zone has no more.
    var end: Int?
    /// Seconds east of UTC during the span.
    var offset: Int
    /// Seconds east of UTC just before `start` (equal to `offset` when there is no start).
    var previousOffset: Int

    /// The span holding `instant`.
    init(containing instant: Int, in zone: TimeZone) {
        offset = zone.secondsFromGMT(for: Date(seconds: instant))
        end = zone.nextDaylightSavingTimeTransition(after: Date(seconds: instant)).map(\.wholeSecondsUp)
        var start: Int?
        var probe = zone.nextDaylightSavingTimeTransition(after: Date(seconds: instant - 2 * 86_400))
        while let transition = probe?.wholeSecondsUp, transition <= instant {
            start = transition
            probe = zone.nextDaylightSavingTimeTransition(after: Date(seconds: transition))
        }
        self.start = start
        previousOffset = start.map { zone.secondsFromGMT(for: Date(seconds: $0 - 1)) } ?? offset
    }

    /// The span after this one (nil when this one never ends).
    func following(in zone: TimeZone) -> OffsetSpan? {
        guard let end else { return nil }
        var next = self
        next.start = end
        next.previousOffset = offset
        next.offset = zone.secondsFromGMT(for: Date(seconds: end))
        next.end = zone.nextDaylightSavingTimeTransition(after: Date(seconds: end)).map(\.wholeSecondsUp)
        return next
    }
}

/// A piece of the tick sequence: either one instant, or every allowed civil time of a stretch shifted by an offset.
enum TickRun {
    /// The tick a spring-forward gap gives a fixed-hour expression: the first instant after the gap.
    case instant(Int)
    /// The ticks at instants `from..<before`: the civil times `from + offset ..< before + offset` that match.
    case civil(offset: Int, from: Int, before: Int)
}

extension CronExpression {
    /// How far ahead a search without an end looks: one Gregorian cycle and two days. A valid expression matches
    /// some date in every cycle, so only instants past the year 9999 or days that a zone skipped whole (Samoa
    /// skipped 2011-12-30) can exhaust it.
    static let searchHorizon = 146_097 * 86_400 + 2 * 86_400
    /// Instants the search handles: years 0001 to 9999 (beyond, `next` answers nil).
    static let instantRange = -62_135_596_800...253_402_300_799

    /// Visits, in order, the runs making up the ticks at instants `from...through` (`through` nil: up to the search
    /// horizon), applying the daylight-saving rules of ``next(after:in:)``, until `visit` returns false.
    func walkTicks(from: Int, through: Int?, in zone: TimeZone, _ visit: (TickRun) -> Bool) {
        guard Self.instantRange.contains(from) else { return }
        let last = min(through ?? from + Self.searchHorizon, Self.instantRange.upperBound)
        guard from <= last else { return }
        var span: OffsetSpan? = OffsetSpan(containing: from, in: zone)
        while let current = span {
            var low = max(from, current.start ?? from)
            if let start = current.start, !followsElapsedTime {
                if current.previousOffset > current.offset {
                    // The clock went back: the wall-clock times just after `start` already happened; a fixed-hour
                    // expression fired at their first occurrence.
                    low = max(low, start + current.previousOffset - current.offset)
                } else if current.previousOffset < current.offset, start >= from, start <= last,
                          firstCivilMatch(from: start + current.previousOffset, before: start + current.offset) != nil
                {
                    // The clock jumped forward over allowed times: they fire once, when the gap ends.
                    guard visit(.instant(start)) else { return }
                    low = max(low, start + 1)
                }
            }
            let before = min(current.end ?? Int.max, last + 1)
            if low < before, !visit(.civil(offset: current.offset, from: low, before: before)) { return }
            guard let end = current.end, end <= last else { return }
            span = current.following(in: zone)
        }
    }
}

extension Date {
    /// The date `seconds` whole seconds after 1970-01-01 UTC.
    init(seconds: Int) { self.init(timeIntervalSince1970: TimeInterval(seconds)) }

    /// Whole seconds since 1970 rounded up (zone transitions are whole seconds; rounding up keeps a fraction
    /// inside the span it belongs to).
    var wholeSecondsUp: Int { Int(timeIntervalSince1970.rounded(.up)) }
}
