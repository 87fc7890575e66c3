import Foundation
import Schedules
import Testing

/// Daylight-saving changes in Europe/Berlin (2026: clocks go 02:00 CET → 03:00 CEST on March 29 and 03:00 CEST →
/// 02:00 CET on October 25) and America/New_York (2026: 02:00 EST → 03:00 EDT on March 8, 02:00 EDT → 01:00 EST on
/// November 1). Expected instants are written with the offset in force.
@Suite struct CronDaylightSavingTests {
    func ticks(_ text: String, after start: String, through end: String, in zone: TimeZone) throws -> [Date] {
        try CronExpression(parsing: text).ticks(after: at(start), through: at(end), in: zone, limit: 1_000)
    }

    @Test func berlinSpringForwardFixedHour() throws {
        // 02:30 does not exist on March 29: it fires once at 03:00 CEST, the first instant after the gap.
        #expect(try ticks("30 2 * * *", after: "2026-03-28T00:00:00+01:00", through: "2026-03-31T00:00:00+02:00", in: berlin)
                    == [at("2026-03-28T02:30:00+01:00"), at("2026-03-29T03:00:00+02:00"), at("2026-03-30T02:30:00+02:00")])
        #expect(try CronExpression(parsing: "30 2 * * *").next(after: at("2026-03-28T12:00:00Z"), in: berlin)
                    == at("2026-03-29T01:00:00Z"))
        // Several times in the gap still fire once.
        #expect(try ticks("*/15 2 * * *", after: "2026-03-29T00:00:00+01:00", through: "2026-03-30T12:00:00+02:00", in: berlin)
                    == [at("2026-03-29T03:00:00+02:00")]
                        + ["00", "15", "30", "45"].map { at("2026-03-30T02:\($0):00+02:00") })
        // 02:00 in the gap and 03:00 right after it are the same instant: one tick.
        #expect(try ticks("0 2,3 * * *", after: "2026-03-29T00:00:00+01:00", through: "2026-03-30T12:00:00+02:00", in: berlin)
                    == [at("2026-03-29T03:00:00+02:00"), at("2026-03-30T02:00:00+02:00"), at("2026-03-30T03:00:00+02:00")])
        #expect(try ticks("0 30 2 * * *", after: "2026-03-29T00:00:00+01:00", through: "2026-03-29T12:00:00+02:00", in: berlin)
                    == [at("2026-03-29T03:00:00+02:00")])
        // Just before the gap's end, the gap's tick is next.
        #expect(try CronExpression(parsing: "30 2 * * *").next(after: at("2026-03-29T00:59:59.5Z"), in: berlin)
                    == at("2026-03-29T01:00:00Z"))
    }

    @Test func berlinSpringForwardWildcardHour() throws {
        // The missing hour simply has no ticks.
        #expect(try ticks("0 * * * *", after: "2026-03-29T00:30:00+01:00", through: "2026-03-29T04:30:00+02:00", in: berlin)
                    == [at("2026-03-29T01:00:00+01:00"), at("2026-03-29T03:00:00+02:00"), at("2026-03-29T04:00:00+02:00")])
        #expect(try ticks("30 * * * *", after: "2026-03-29T01:00:00+01:00", through: "2026-03-29T04:00:00+02:00", in: berlin)
                    == [at("2026-03-29T01:30:00+01:00"), at("2026-03-29T03:30:00+02:00")])
        #expect(try CronExpression(parsing: "* * * * * *").next(after: at("2026-03-29T01:59:59+01:00"), in: berlin)
                    == at("2026-03-29T03:00:00+02:00"))
        // `0-23` and `*/1` allow every hour too.
        #expect(try ticks("30 0-23 * * *", after: "2026-03-29T01:00:00+01:00", through: "2026-03-29T04:00:00+02:00", in: berlin)
                    == [at("2026-03-29T01:30:00+01:00"), at("2026-03-29T03:30:00+02:00")])
    }

    @Test func berlinFallBackFixedHour() throws {
        // 02:30 happens twice on October 25: it fires at the first (CEST) only.
        #expect(try ticks("30 2 * * *", after: "2026-10-24T00:00:00+02:00", through: "2026-10-27T00:00:00+01:00", in: berlin)
                    == [at("2026-10-24T02:30:00+02:00"), at("2026-10-25T02:30:00+02:00"), at("2026-10-26T02:30:00+01:00")])
        #expect(try CronExpression(parsing: "30 2 * * *").next(after: at("2026-10-25T02:30:00+02:00"), in: berlin)
                    == at("2026-10-26T02:30:00+01:00"))
        // From inside the repeated hour, the repeat is not a tick.
        #expect(try CronExpression(parsing: "30 2 * * *").next(after: at("2026-10-25T02:10:00+01:00"), in: berlin)
                    == at("2026-10-26T02:30:00+01:00"))
        #expect(try ticks("*/15 2 * * *", after: "2026-10-25T00:00:00+02:00", through: "2026-10-26T02:20:00+01:00", in: berlin)
                    == ["00", "15", "30", "45"].map { at("2026-10-25T02:\($0):00+02:00") }
                        + [at("2026-10-26T02:00:00+01:00"), at("2026-10-26T02:15:00+01:00")])
        #expect(try ticks("0 1-3 * * *", after: "2026-10-25T00:00:00+02:00", through: "2026-10-25T12:00:00+01:00", in: berlin)
                    == [at("2026-10-25T01:00:00+02:00"), at("2026-10-25T02:00:00+02:00"), at("2026-10-25T03:00:00+01:00")])
    }

    @Test func berlinFallBackWildcardHour() throws {
        // Elapsed time: 02:00 CEST and 02:00 CET both fire.
        #expect(try ticks("0 * * * *", after: "2026-10-25T00:30:00+02:00", through: "2026-10-25T03:30:00+01:00", in: berlin)
                    == [at("2026-10-25T01:00:00+02:00"), at("2026-10-25T02:00:00+02:00"), at("2026-10-25T02:00:00+01:00"),
                        at("2026-10-25T03:00:00+01:00")])
        let quarters = try ticks("*/15 * * * *", after: "2026-10-25T01:59:00+02:00", through: "2026-10-25T03:00:00+01:00",
                                 in: berlin)
        #expect(quarters == (0..<9).map { at("2026-10-25T00:00:00Z") + Double($0 * 900) })
    }

    @Test func newYorkSpringForward() throws {
        #expect(try ticks("30 2 * * *", after: "2026-03-07T12:00:00-05:00", through: "2026-03-09T12:00:00-04:00", in: newYork)
                    == [at("2026-03-08T03:00:00-04:00"), at("2026-03-09T02:30:00-04:00")])
        #expect(try ticks("0 * * * *", after: "2026-03-08T00:30:00-05:00", through: "2026-03-08T04:30:00-04:00", in: newYork)
                    == [at("2026-03-08T01:00:00-05:00"), at("2026-03-08T03:00:00-04:00"), at("2026-03-08T04:00:00-04:00")])
    }

    @Test func newYorkFallBack() throws {
        // 01:30 happens twice on November 1: the fixed hour fires at 01:30 EDT only.
        #expect(try ticks("30 1 * * *", after: "2026-10-31T12:00:00-04:00", through: "2026-11-02T12:00:00-05:00", in: newYork)
                    == [at("2026-11-01T01:30:00-04:00"), at("2026-11-02T01:30:00-05:00")])
        #expect(try ticks("*/30 * * * *", after: "2026-11-01T00:45:00-04:00", through: "2026-11-01T02:00:00-05:00", in: newYork)
                    == [at("2026-11-01T01:00:00-04:00"), at("2026-11-01T01:30:00-04:00"), at("2026-11-01T01:00:00-05:00"),
                        at("2026-11-01T01:30:00-05:00"), at("2026-11-01T02:00:00-05:00")])
    }

    @Test func utcHasNoChanges() throws {
        #expect(try ticks("30 2 * * *", after: "2026-03-28T12:00:00Z", through: "2026-03-30T12:00:00Z", in: utc)
                    == [at("2026-03-29T02:30:00Z"), at("2026-03-30T02:30:00Z")])
        #expect(try ticks("30 2 * * *", after: "2026-10-24T12:00:00Z", through: "2026-10-26T12:00:00Z", in: utc)
                    == [at("2026-10-25T02:30:00Z"), at("2026-10-26T02:30:00Z")])
    }

    /// Zones whose offset changed for other reasons than summer time: Samoa skipped December 30, 2011 whole; Lord
    /// Howe moves by half an hour.
    @Test func unusualTransitions() throws {
        let apia = try #require(TimeZone(identifier: "Pacific/Apia"))
        // 2011-12-29 23:59:59 -10:00 was followed by 2011-12-31 00:00:00 +14:00.
        #expect(try ticks("0 12 * * *", after: "2011-12-29T00:00:00-10:00", through: "2011-12-31T23:00:00+14:00", in: apia)
                    == [at("2011-12-29T12:00:00-10:00"), at("2011-12-31T00:00:00+14:00"), at("2011-12-31T12:00:00+14:00")])
        #expect(try ticks("0 12 * * *", after: "2011-12-29T00:00:00-10:00", through: "2011-12-31T23:00:00+14:00", in: apia)
                    .count == 3)
        let lordHowe = try #require(TimeZone(identifier: "Australia/Lord_Howe"))
        // 2026-10-04 02:00 +10:30 → 02:30 +11:00.
        #expect(try ticks("15 2 * * *", after: "2026-10-03T12:00:00+10:30", through: "2026-10-05T12:00:00+11:00", in: lordHowe)
                    == [at("2026-10-04T02:30:00+11:00"), at("2026-10-05T02:15:00+11:00")])
        #expect(try ticks("*/20 * * * *", after: "2026-10-04T01:50:00+10:30", through: "2026-10-04T03:00:00+11:00", in: lordHowe)
                    == [at("2026-10-04T02:40:00+11:00"), at("2026-10-04T03:00:00+11:00")])
    }
}
