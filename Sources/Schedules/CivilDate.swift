/// A date of the proleptic Gregorian calendar with its day number, for walking the calendar one day or one month at
/// a time without a `Calendar` round trip per step.
///
/// Day numbers count days from 1970-01-01 (day 0, a Thursday). The conversions are exact integer arithmetic over
/// 400-year cycles (146,097 days each), so they hold for any year the search may reach.
struct CivilDate: Sendable, Equatable {
    private(set) var year: Int
    private(set) var month: Int
    private(set) var day: Int
    /// 0 is Sunday, 6 Saturday (cron's numbering).
    private(set) var weekday: Int
    private(set) var dayNumber: Int

    init(dayNumber: Int) {
        // Count from 0000-03-01 so that the leap day is the last day of the counted year.
        let shifted = dayNumber + 719_468
        let cycle = shifted.floorDivided(by: 146_097)
        let dayOfCycle = shifted - cycle * 146_097
        let yearOfCycle = (dayOfCycle - dayOfCycle / 1_460 + dayOfCycle / 36_524 - dayOfCycle / 146_096) / 365
        let dayOfYear = dayOfCycle - (365 * yearOfCycle + yearOfCycle / 4 - yearOfCycle / 100)
        let marchMonth = (5 * dayOfYear + 2) / 153  // 0 is March, 11 February
        self.day = dayOfYear - (153 * marchMonth + 2) / 5 + 1
        self.month = marchMonth < 10 ? marchMonth + 3 : marchMonth - 9
        self.year = yearOfCycle + cycle * 400 + (month <= 2 ? 1 : 0)
        self.dayNumber = dayNumber
        self.weekday = (dayNumber + 4).floorModulo(7)
    }

    init(year: Int, month: Int, day: Int) {
        self.init(dayNumber: Self.dayNumber(year: year, month: month, day: day))
    }

    static func dayNumber(year: Int, month: Int, day: Int) -> Int {
        let marchYear = month <= 2 ? year - 1 : year
        let cycle = marchYear.floorDivided(by: 400)
        let yearOfCycle = marchYear - cycle * 400
        let marchMonth = (month + 9) % 12
        let dayOfYear = (153 * marchMonth + 2) / 5 + day - 1
        let dayOfCycle = yearOfCycle * 365 + yearOfCycle / 4 - yearOfCycle / 100 + dayOfYear
        return cycle * 146_097 + dayOfCycle - 719_468
    }

    static func isLeapYear(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// The next day.
    mutating func advance() {
        dayNumber += 1
        weekday = weekday == 6 ? 0 : weekday + 1
        day += 1
        if day > Self.daysIn(month: month, year: year) {
            day = 1
            month += 1
            if month > 12 {
                month = 1
                year += 1
            }
        }
    }
}

extension Int {
    /// Division rounding toward negative infinity (instants before 1970 are negative).
    func floorDivided(by divisor: Int) -> Int {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    /// The remainder that goes with `floorDivided(by:)`: always in `0..<divisor` for a positive divisor.
    func floorModulo(_ divisor: Int) -> Int {
        self - floorDivided(by: divisor) * divisor
    }
}
