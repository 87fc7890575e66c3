import Foundation
import Schedules
import Testing

/// Next ticks in UTC and in fixed-offset zones, against explicit instants.
@Suite struct CronNextTests {
    /// The ticks of `text` after `start`, `count` of them.
    func ticks(_ text: String, after start: String, _ count: Int, in zone: TimeZone = utc) throws -> [Date] {
        let expression = try CronExpression(parsing: text)
        var result: [Date] = []
        var cursor = at(start)
        for _ in 0..<count {
            guard let next = expression.next(after: cursor, in: zone) else { break }
            result.append(next)
            cursor = next
        }
        return result
    }

    @Test func everyMinuteAndEverySecond() throws {
        #expect(try ticks("* * * * *", after: "2026-01-01T00:00:00Z", 2)
                    == [at("2026-01-01T00:01:00Z"), at("2026-01-01T00:02:00Z")])
        #expect(try ticks("* * * * *", after: "2026-01-01T00:00:30.5Z", 1) == [at("2026-01-01T00:01:00Z")])
        #expect(try ticks("* * * * *", after: "2026-01-01T00:00:59.999Z", 1) == [at("2026-01-01T00:01:00Z")])
        #expect(try ticks("* * * * * *", after: "2026-01-01T00:00:00Z", 2)
                    == [at("2026-01-01T00:00:01Z"), at("2026-01-01T00:00:02Z")])
        #expect(try ticks("* * * * * *", after: "2026-01-01T00:00:00.5Z", 1) == [at("2026-01-01T00:00:01Z")])
        #expect(try ticks("* * * * * *", after: "2026-12-31T23:59:59Z", 1) == [at("2027-01-01T00:00:00Z")])
    }

    @Test func stepsListsAndRanges() throws {
        #expect(try ticks("*/15 * * * *", after: "2026-01-01T10:07:00Z", 3)
                    == [at("2026-01-01T10:15:00Z"), at("2026-01-01T10:30:00Z"), at("2026-01-01T10:45:00Z")])
        #expect(try ticks("*/15 * * * *", after: "2026-01-01T10:45:00Z", 1) == [at("2026-01-01T11:00:00Z")])
        #expect(try ticks("5,10-12 3 * * *", after: "2026-01-01T00:00:00Z", 5)
                    == ["03:05", "03:10", "03:11", "03:12"].map { at("2026-01-01T\($0):00Z") }
                        + [at("2026-01-02T03:05:00Z")])
        #expect(try ticks("10/20 * * * *", after: "2026-01-01T00:00:00Z", 4)
                    == ["00:10", "00:30", "00:50", "01:10"].map { at("2026-01-01T\($0):00Z") })
        #expect(try ticks("0 8-17/3 * * *", after: "2026-01-01T00:00:00Z", 5)
                    == ["08", "11", "14", "17"].map { at("2026-01-01T\($0):00:00Z") } + [at("2026-01-02T08:00:00Z")])
        #expect(try ticks("*/10 * * * * *", after: "2026-01-01T00:00:45Z", 2)
                    == [at("2026-01-01T00:00:50Z"), at("2026-01-01T00:01:00Z")])
        #expect(try ticks("30 0 0 * * *", after: "2026-01-01T00:00:30Z", 1) == [at("2026-01-02T00:00:30Z")])
    }

    @Test func namesAndWeekdays() throws {
        // 2026-01-01 is a Thursday.
        #expect(try ticks("0 9 * * MON-FRI", after: "2026-01-02T10:00:00Z", 2)
                    == [at("2026-01-05T09:00:00Z"), at("2026-01-06T09:00:00Z")])
        #expect(try ticks("0 0 * * 7", after: "2026-01-01T00:00:00Z", 2)
                    == [at("2026-01-04T00:00:00Z"), at("2026-01-11T00:00:00Z")])
        #expect(try ticks("0 0 1 jan,Jul *", after: "2026-01-01T00:00:00Z", 2)
                    == [at("2026-07-01T00:00:00Z"), at("2027-01-01T00:00:00Z")])
        #expect(try ticks("0 0 1 * *", after: "2026-01-31T12:00:00Z", 1) == [at("2026-02-01T00:00:00Z")])
    }

    @Test func nicknames() throws {
        #expect(try ticks("@yearly", after: "2026-01-01T00:00:00Z", 1) == [at("2027-01-01T00:00:00Z")])
        #expect(try ticks("@monthly", after: "2026-01-31T00:00:00Z", 1) == [at("2026-02-01T00:00:00Z")])
        #expect(try ticks("@weekly", after: "2026-01-01T00:00:00Z", 1) == [at("2026-01-04T00:00:00Z")])
        #expect(try ticks("@daily", after: "2026-01-01T00:00:00Z", 1) == [at("2026-01-02T00:00:00Z")])
        #expect(try ticks("@hourly", after: "2026-01-01T00:59:59Z", 1) == [at("2026-01-01T01:00:00Z")])
    }

    /// Vixie cron: both day fields restricted means either; a day field starting with `*` means both.
    @Test func dayOfMonthAndDayOfWeek() throws {
        // The 13th or any Friday.
        #expect(try ticks("0 0 13 * FRI", after: "2026-01-01T00:00:00Z", 4)
                    == ["02", "09", "13", "16"].map { at("2026-01-\($0)T00:00:00Z") })
        // Fridays on odd days of the month (`*/2` starts with `*`).
        #expect(try ticks("0 0 */2 * FRI", after: "2026-01-01T00:00:00Z", 3)
                    == [at("2026-01-09T00:00:00Z"), at("2026-01-23T00:00:00Z"), at("2026-02-13T00:00:00Z")])
        // Day-of-week `*` with a day of month: only that day.
        #expect(try ticks("0 0 13 * *", after: "2026-01-01T00:00:00Z", 2)
                    == [at("2026-01-13T00:00:00Z"), at("2026-02-13T00:00:00Z")])
        // `*/1` day-of-week with a day of month: both, so only the day of month (every weekday allowed).
        #expect(try ticks("0 0 13 * */1", after: "2026-01-01T00:00:00Z", 1) == [at("2026-01-13T00:00:00Z")])
    }

    @Test func leapDays() throws {
        #expect(try ticks("0 0 29 2 *", after: "2026-03-01T00:00:00Z", 2)
                    == [at("2028-02-29T00:00:00Z"), at("2032-02-29T00:00:00Z")])
        #expect(try ticks("0 0 29 2 *", after: "2028-02-29T00:00:00Z", 1) == [at("2032-02-29T00:00:00Z")])
        // 2100 is not a leap year: eight years from 2096 to 2104.
        #expect(try ticks("0 0 29 2 *", after: "2096-03-01T00:00:00Z", 1) == [at("2104-02-29T00:00:00Z")])
        #expect(try ticks("0 0 29 2 *", after: "2399-01-01T00:00:00Z", 1) == [at("2400-02-29T00:00:00Z")])
        // `*/28` is the 1st and the 29th; starting with `*`, it must also be a Monday: February 1st, 2021 and 2027
        // (no February 29th is a Monday between 2016 and 2044).
        #expect(try ticks("0 0 */28 2 MON", after: "2016-03-01T00:00:00Z", 2)
                    == [at("2021-02-01T00:00:00Z"), at("2027-02-01T00:00:00Z")])
        // Answered from many starting points without stepping day by day through the years.
        let expression = try CronExpression(parsing: "0 0 29 2 *")
        var start = at("2000-01-01T00:00:00Z")
        for _ in 0..<500 {
            let next = try #require(expression.next(after: start, in: berlin))
            #expect(next > start)
            start += 86_400 * 17
        }
    }

    @Test func endsOfMonthsAndYears() throws {
        #expect(try ticks("0 0 31 * *", after: "2026-01-31T00:00:00Z", 2)
                    == [at("2026-03-31T00:00:00Z"), at("2026-05-31T00:00:00Z")])
        #expect(try ticks("0 12 30 * *", after: "2026-01-30T12:00:00Z", 1) == [at("2026-03-30T12:00:00Z")])
        #expect(try ticks("59 23 31 12 *", after: "2026-12-31T23:59:00Z", 1) == [at("2027-12-31T23:59:00Z")])
        #expect(try ticks("0 0 1 1 *", after: "2026-12-31T23:59:59.9Z", 1) == [at("2027-01-01T00:00:00Z")])
        #expect(try ticks("0 0 28-31 * *", after: "2027-02-27T00:00:00Z", 2)
                    == [at("2027-02-28T00:00:00Z"), at("2027-03-28T00:00:00Z")])
    }

    @Test func fixedOffsetZones() throws {
        let india = try #require(TimeZone(secondsFromGMT: 5 * 3_600 + 1_800))
        #expect(try ticks("0 9 * * *", after: "2026-01-01T00:00:00Z", 2, in: india)
                    == [at("2026-01-01T03:30:00Z"), at("2026-01-02T03:30:00Z")])
        let tokyo = try #require(TimeZone(identifier: "Asia/Tokyo"))
        #expect(try ticks("0 0 1 * *", after: "2026-01-01T00:00:00Z", 1, in: tokyo) == [at("2026-01-31T15:00:00Z")])
    }

    @Test func ticksConvenience() throws {
        let expression = try CronExpression(parsing: "*/20 * * * *")
        #expect(expression.ticks(after: at("2026-01-01T00:00:00Z"), through: at("2026-01-01T01:00:00Z"), in: utc,
                                 limit: 10)
                    == ["00:20", "00:40", "01:00"].map { at("2026-01-01T\($0):00Z") })
        #expect(expression.ticks(after: at("2026-01-01T00:00:00Z"), through: at("2026-01-01T01:00:00Z"), in: utc,
                                 limit: 2)
                    == ["00:20", "00:40"].map { at("2026-01-01T\($0):00Z") })
        #expect(expression.ticks(after: at("2026-01-01T01:00:00Z"), through: at("2026-01-01T00:00:00Z"), in: utc,
                                 limit: 10).isEmpty)
        #expect(expression.ticks(after: at("2026-01-01T00:00:00Z"), through: at("2026-01-01T00:19:59.9Z"), in: utc,
                                 limit: 10).isEmpty)
    }

    @Test func extremeInstants() throws {
        let expression = try CronExpression(parsing: "* * * * * *")
        #expect(expression.next(after: .distantFuture, in: utc) != nil)
        #expect(expression.next(after: Date(timeIntervalSince1970: 1e15), in: utc) == nil)
        #expect(expression.next(after: Date(timeIntervalSince1970: .infinity), in: utc) == nil)
        #expect(expression.next(after: Date(timeIntervalSince1970: .nan), in: utc) == nil)
        #expect(expression.next(after: Date(timeIntervalSince1970: -1e15), in: utc) == nil)
        #expect(expression.next(after: at("1969-12-31T23:59:59.5Z"), in: utc) == at("1970-01-01T00:00:00Z"))
        #expect(expression.next(after: at("1900-03-01T00:00:00Z"), in: utc) == at("1900-03-01T00:00:01Z"))
    }

    /// The search against a brute force over every 5 minutes of 30 days around the daylight-saving changes, which
    /// reads the wall clock through Foundation's Gregorian calendar (and so the system's tzdata). With a wildcard
    /// hour the ticks are exactly the instants whose wall-clock fields match, across daylight-saving changes too.
    @Test(arguments: [utc, berlin, newYork])
    func agreesWithCalendarBruteForce(zone: TimeZone) throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let cases: [(String, (DateComponents) -> Bool)] = [
            ("*/10 * * * *", { $0.minute! % 10 == 0 }),
            ("0,30 * 1-10,20 * *", { [0, 30].contains($0.minute!) && ((1...10).contains($0.day!) || $0.day! == 20) }),
            ("15 * * * SAT,SUN", { $0.minute! == 15 && [1, 7].contains($0.weekday!) }),
            ("0 * 13 * FRI", { $0.minute! == 0 && ($0.day! == 13 || $0.weekday! == 6) }),
            ("45 * */3 MAR,NOV TUE", {
                $0.minute! == 45 && [3, 11].contains($0.month!) && ($0.day! - 1) % 3 == 0 && $0.weekday! == 3
            }),
        ]
        for start in [at("2026-03-01T00:00:00Z"), at("2026-10-15T00:00:00Z")] {
            let instants = (1...(30 * 24 * 12)).map { start + Double($0 * 300) }
            let fields = instants.map { calendar.dateComponents([.minute, .day, .month, .weekday], from: $0) }
            for (text, matches) in cases {
                let expression = try CronExpression(parsing: text)
                let expected = zip(instants, fields).filter { matches($0.1) }.map(\.0)
                let found = expression.ticks(after: start, through: instants.last!, in: zone, limit: 100_000)
                #expect(found == expected, "\(text) in \(zone.identifier) from \(start)")
            }
        }
    }
}
