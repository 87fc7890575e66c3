import Foundation

extension CronExpression {
    /// The first tick strictly after `instant`, on the wall clock of `timeZone`; nil only past the year 9999.
    ///
    /// Ticks are whole seconds (second 0 of the minute for five-field expressions). The search skips whole months,
    /// days, hours and minutes, and crosses time-zone transitions span by span, so even `0 0 29 2 *` is answered
    /// at once.
    ///
    /// Daylight-saving changes, as cron users expect them:
    /// - Spring forward (the wall clock skips an hour): an expression with a fixed hour whose time falls in the
    ///   skipped hour fires once, at the first instant after the gap (`30 2 * * *` in Europe/Berlin on the last
    ///   Sunday of March fires at 03:00 local time; several times in the gap still fire once). An expression whose
    ///   hour field allows every hour (`*`, `*/1`, `0-23`) has no ticks in the skipped hour.
    /// - Fall back (the wall clock repeats an hour): an expression with a fixed hour fires once, at the first
    ///   occurrence of its time. An expression whose hour field allows every hour follows elapsed time and fires in
    ///   both occurrences (`*/15 * * * *` fires every 15 minutes, `0 * * * *` at 02:00 summer time and at 02:00
    ///   winter time).
    /// "Fixed hour" means any hour field that does not allow all 24 hours (`2`, `1-5`, `*/2`).
    public func next(after instant: Date, in timeZone: TimeZone) -> Date? {
        guard let from = Self.firstWholeSecond(after: instant) else { return nil }
        return firstTick(from: from, through: nil, in: timeZone).map(Date.init(seconds:))
    }

    /// The ticks strictly after `start` and at or before `end`, oldest first, at most `limit` of them.
    public func ticks(after start: Date, through end: Date, in timeZone: TimeZone, limit: Int) -> [Date] {
        guard limit > 0, let from = Self.firstWholeSecond(after: start),
              let through = Self.lastWholeSecond(atOrBefore: end)
        else { return [] }
        return ticks(from: from, through: through, in: timeZone, limit: limit).map(Date.init(seconds:))
    }

    // MARK: Whole-second instants (seconds since 1970), used by the planner too

    /// The first whole second strictly after `instant`, nil outside the years 0001-9999.
    static func firstWholeSecond(after instant: Date) -> Int? {
        let seconds = instant.timeIntervalSince1970.rounded(.down)
        guard seconds.isFinite, seconds >= Double(instantRange.lowerBound - 1),
              seconds < Double(instantRange.upperBound)
        else { return nil }
        return Int(seconds) + 1
    }

    /// The last whole second at or before `instant`, clamped to the years 0001-9999 (nil before them).
    static func lastWholeSecond(atOrBefore instant: Date) -> Int? {
        let seconds = instant.timeIntervalSince1970.rounded(.down)
        guard !seconds.isNaN, seconds >= Double(instantRange.lowerBound) else { return nil }
        return seconds >= Double(instantRange.upperBound) ? instantRange.upperBound : Int(seconds)
    }

    func firstTick(from: Int, through: Int?, in zone: TimeZone) -> Int? {
        var found: Int?
        walkTicks(from: from, through: through, in: zone) { run in
            switch run {
            case .instant(let instant):
                found = instant
            case .civil(let offset, let low, let before):
                found = firstCivilMatch(from: low + offset, before: before + offset).map { $0 - offset }
            }
            return found == nil
        }
        return found
    }

    func ticks(from: Int, through: Int, in zone: TimeZone, limit: Int) -> [Int] {
        var result: [Int] = []
        walkTicks(from: from, through: through, in: zone) { run in
            switch run {
            case .instant(let instant):
                if result.count < limit { result.append(instant) }
            case .civil(let offset, let low, let before):
                var civil = low + offset
                while result.count < limit, let match = firstCivilMatch(from: civil, before: before + offset) {
                    result.append(match - offset)
                    civil = match + 1
                }
            }
            return result.count < limit
        }
        return result
    }

    /// How many ticks lie in `from...through`: exact, in time proportional to the days covered (not the ticks).
    func countTicks(from: Int, through: Int, in zone: TimeZone) -> Int {
        var count = 0
        walkTicks(from: from, through: through, in: zone) { run in
            switch run {
            case .instant: count += 1
            case .civil(let offset, let low, let before):
                count += countCivilMatches(from: low + offset, before: before + offset)
            }
            return true
        }
        return count
    }

    /// The newest tick in `from...through`, found by bisection on `firstTick` (about 40 searches whatever the
    /// distance).
    func lastTick(from: Int, through: Int, in zone: TimeZone) -> Int? {
        guard var found = firstTick(from: from, through: through, in: zone) else { return nil }
        // Invariant: `found` is a tick in range; no tick lies in `found + 1 ... low - 1` once `low` moves.
        var low = found + 1
        var high = through
        while low <= high {
            let middle = low + (high - low) / 2
            if let later = firstTick(from: middle, through: through, in: zone) {
                found = later
                low = later + 1
            } else {
                high = middle - 1
            }
        }
        return found
    }

    /// The oldest instant `x` in `from...through` with at most `count` ticks in `x...through`, by bisection on
    /// `countTicks`: where the newest `count` ticks begin.
    func startOfNewest(_ count: Int, from: Int, through: Int, in zone: TimeZone) -> Int {
        var low = from
        var high = through + 1
        while low < high {
            let middle = low + (high - low) / 2
            if countTicks(from: middle, through: through, in: zone) <= count {
                high = middle
            } else {
                low = middle + 1
            }
        }
        return low
    }
}
