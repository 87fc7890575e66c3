import Foundation
import Testing

@testable import Schedules

/// The planner's shortcuts (counting day by day, bisection for the newest ticks) against plain enumeration, over
/// ranges chosen by a fixed pseudo-random sequence around daylight-saving changes, for fixed and wildcard hours.
@Suite struct TickCountingTests {
    /// A small deterministic generator (SplitMix64), so that a failure names a reproducible range.
    struct Sequence {
        var state: UInt64
        mutating func next(below bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
    }

    @Test(arguments: ["*/20 * * * *", "30 2 * * *", "*/15 1-3 * * *", "0 * * * *", "0 0 * * SUN", "*/7 */5 * * * *"])
    func shortcutsAgreeWithEnumeration(text: String) throws {
        let expression = try CronExpression(parsing: text)
        var random = Sequence(state: 42)
        for zone in [berlin, newYork, utc] {
            // Ranges starting within a few days before the 2026 spring and autumn changes.
            for anchor in [at("2026-03-05T00:00:00Z").timeIntervalSince1970, at("2026-10-22T00:00:00Z").timeIntervalSince1970] {
                for _ in 0..<6 {
                    let from = Int(anchor) + random.next(below: 12 * 86_400)
                    let through = from + random.next(below: 3 * 86_400)
                    let all = expression.ticks(from: from, through: through, in: zone, limit: 1_000_000)
                    let label = "\(text) in \(zone.identifier) over \(from)...\(through)"
                    #expect(expression.countTicks(from: from, through: through, in: zone) == all.count, "\(label)")
                    #expect(expression.lastTick(from: from, through: through, in: zone) == all.last, "\(label)")
                    #expect(expression.firstTick(from: from, through: through, in: zone) == all.first, "\(label)")
                    let keep = random.next(below: 5)
                    let start = expression.startOfNewest(keep, from: from, through: through, in: zone)
                    #expect(expression.ticks(from: start, through: through, in: zone, limit: 1_000_000)
                                == Array(all.suffix(keep)), "\(label), newest \(keep)")
                    #expect(all == all.sorted() && Set(all).count == all.count, "\(label)")
                }
            }
        }
    }

    /// A per-second schedule down for a year: the count is exact and comes from days, not ticks.
    @Test func yearLongOutage() throws {
        let plan = TickPlan(
            expression: try CronExpression(parsing: "* * * * * *"), timeZone: berlin,
            lastTick: at("2026-01-01T00:00:00Z"), createdAt: at("2025-01-01T00:00:00Z"), now: at("2027-01-01T00:00:00Z"),
            missed: .all, catchUpWindow: .seconds(400 * 86_400)
        )
        #expect(plan.fire.count == 1_000)
        #expect(plan.fire.last == at("2027-01-01T00:00:00Z"))
        #expect(plan.missed.count == 365 * 86_400 - 1_000)
        #expect(plan.next == at("2027-01-01T00:00:01Z"))
    }

    @Test func civilDatesMatchFoundationsCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc
        var random = Sequence(state: 7)
        for _ in 0..<2_000 {
            // Days from 1601 to 2399, beyond Foundation's Julian changeover.
            let day = -135_000 + random.next(below: 300_000)
            let civil = CivilDate(dayNumber: day)
            let components = calendar.dateComponents([.year, .month, .day, .weekday], from: Date(seconds: day * 86_400))
            #expect([civil.year, civil.month, civil.day, civil.weekday + 1]
                        == [components.year, components.month, components.day, components.weekday], "day \(day)")
            #expect(CivilDate.dayNumber(year: civil.year, month: civil.month, day: civil.day) == day)
        }
    }
}
