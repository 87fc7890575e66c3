/// Matching in civil (wall-clock) time: which local dates and times of day the fields allow, found by skipping
/// whole months, days, hours and minutes rather than stepping second by second.
///
/// Civil times are counted as seconds from 1970-01-01 00:00:00 on the wall clock, ignoring time zones; the zone is
/// applied by `ZoneSpans`.
extension CronExpression {
    static let secondsPerDay = 86_400

    /// Whether the day-of-month, month and day-of-week fields allow `date`, with Vixie cron's rule for the two day
    /// fields.
    func allows(_ date: CivilDate) -> Bool {
        guard months.contains(date.month) else { return false }
        let dayOfMonth = daysOfMonth.contains(date.day)
        let dayOfWeek = daysOfWeek.contains(date.weekday)
        return dayOfMonthIsStar || dayOfWeekIsStar ? dayOfMonth && dayOfWeek : dayOfMonth || dayOfWeek
    }

    /// The first allowed date from `start` on, before day number `endDay`. Months the month field excludes are
    /// skipped whole.
    func matchingDay(atOrAfter start: CivilDate, before endDay: Int) -> CivilDate? {
        var date = start
        while date.dayNumber < endDay {
            if !months.contains(date.month) {
                // `months` is never empty: every item of a field allows at least one value.
                let next = months.first(atOrAfter: date.month + 1)
                date = next.map { CivilDate(year: date.year, month: $0, day: 1) }
                    ?? CivilDate(year: date.year + 1, month: months.first(atOrAfter: 1) ?? 1, day: 1)
                continue
            }
            if allows(date) { return date }
            date.advance()
        }
        return nil
    }

    /// The first allowed time of day (seconds from midnight) at or after `secondOfDay`, if any is left that day.
    func firstTime(atOrAfter secondOfDay: Int) -> Int? {
        var hour = secondOfDay / 3_600
        var minute = secondOfDay / 60 % 60
        var second = secondOfDay % 60
        while true {
            guard let allowedHour = hours.first(atOrAfter: hour), allowedHour < 24 else { return nil }
            if allowedHour > hour { (hour, minute, second) = (allowedHour, 0, 0) }
            guard let allowedMinute = minutes.first(atOrAfter: minute) else {
                (hour, minute, second) = (hour + 1, 0, 0)
                continue
            }
            if allowedMinute > minute { (minute, second) = (allowedMinute, 0) }
            guard let allowedSecond = seconds.first(atOrAfter: second) else {
                (minute, second) = (minute + 1, 0)
                continue
            }
            return hour * 3_600 + minute * 60 + allowedSecond
        }
    }

    /// How many allowed times of day are at or after `secondOfDay` (0 for 86,400 and beyond).
    func countTimes(atOrAfter secondOfDay: Int) -> Int {
        guard secondOfDay < Self.secondsPerDay else { return 0 }
        let hour = secondOfDay / 3_600
        let minute = secondOfDay / 60 % 60
        var count = hours.count(atOrAfter: hour + 1) * minutes.count * seconds.count
        if hours.contains(hour) {
            count += minutes.count(atOrAfter: minute + 1) * seconds.count
            if minutes.contains(minute) { count += seconds.count(atOrAfter: secondOfDay % 60) }
        }
        return count
    }

    /// The first allowed civil time in `from..<before`.
    func firstCivilMatch(from: Int, before: Int) -> Int? {
        guard from < before else { return nil }
        let firstDay = from.floorDivided(by: Self.secondsPerDay)
        let endDay = (before - 1).floorDivided(by: Self.secondsPerDay) + 1
        var cursor = CivilDate(dayNumber: firstDay)
        while let date = matchingDay(atOrAfter: cursor, before: endDay) {
            let dayStart = date.dayNumber * Self.secondsPerDay
            if let time = firstTime(atOrAfter: max(from - dayStart, 0)) {
                return dayStart + time < before ? dayStart + time : nil
            }
            cursor = date
            cursor.advance()
        }
        return nil
    }

    /// How many allowed civil times lie in `from..<before`: a constant amount of work per allowed day.
    func countCivilMatches(from: Int, before: Int) -> Int {
        guard from < before else { return 0 }
        let firstDay = from.floorDivided(by: Self.secondsPerDay)
        let endDay = (before - 1).floorDivided(by: Self.secondsPerDay) + 1
        var cursor = CivilDate(dayNumber: firstDay)
        var count = 0
        while let date = matchingDay(atOrAfter: cursor, before: endDay) {
            let dayStart = date.dayNumber * Self.secondsPerDay
            count += countTimes(atOrAfter: max(from - dayStart, 0)) - countTimes(atOrAfter: before - dayStart)
            cursor = date
            cursor.advance()
        }
        return count
    }
}
