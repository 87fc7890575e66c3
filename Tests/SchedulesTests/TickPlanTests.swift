import Foundation
import Schedules
import Testing

/// The planner's policies against explicit instants. Lateness is the default 2 s unless a test says otherwise.
@Suite struct TickPlanTests {
    func plan(
        _ text: String, last: String?, created: String = "2020-01-01T00:00:00Z", now: String, _ policy: MissedTicks,
        window: Duration = .seconds(3_600), lateness: Duration = TickPlan.defaultLateness, limit: Int = 1_000,
        in zone: TimeZone = utc
    ) throws -> TickPlan {
        TickPlan(expression: try CronExpression(parsing: text), timeZone: zone, lastTick: last.map(at), createdAt: at(created),
                 now: at(now), missed: policy, catchUpWindow: window, lateness: lateness, limit: limit)
    }

    func minutes(_ list: [Int], hour: String = "10") -> [Date] {
        list.map { at("2026-01-01T\(hour):\(String(format: "%02d", $0)):00Z") }
    }

    @Test func nothingDue() throws {
        for policy in MissedTicks.allCases {
            let result = try plan("0 * * * *", last: "2026-01-01T10:00:00Z", now: "2026-01-01T10:30:00Z", policy)
            #expect(result.fire.isEmpty)
            #expect(result.missed == .none)
            #expect(result.next == at("2026-01-01T11:00:00Z"))
        }
    }

    @Test func onTimeAndSlightlyLate() throws {
        for policy in MissedTicks.allCases {
            for now in ["2026-01-01T11:00:00Z", "2026-01-01T11:00:01.5Z", "2026-01-01T11:00:02Z"] {
                let result = try plan("0 * * * *", last: "2026-01-01T10:00:00Z", now: now, policy, window: .zero)
                #expect(result.fire == [at("2026-01-01T11:00:00Z")], "\(policy) at \(now)")
                #expect(result.missed == .none)
                #expect(result.next == at("2026-01-01T12:00:00Z"))
            }
        }
    }

    @Test func lateTickByPolicy() throws {
        let last = "2026-01-01T10:00:00Z"
        let now = "2026-01-01T11:00:02.5Z"
        let tick = at("2026-01-01T11:00:00Z")
        let skipped = try plan("0 * * * *", last: last, now: now, .skip)
        #expect(skipped.fire.isEmpty)
        #expect(skipped.missed == MissedTickSummary(count: 1, first: tick, last: tick, listed: [tick]))
        #expect(try plan("0 * * * *", last: last, now: now, .latest).fire == [tick])
        #expect(try plan("0 * * * *", last: last, now: now, .all).fire == [tick])
        let outsideWindow = try plan("0 * * * *", last: last, now: now, .all, window: .seconds(2))
        #expect(outsideWindow.fire.isEmpty)
        #expect(outsideWindow.missed.count == 1)
        #expect(try plan("0 * * * *", last: last, now: now, .all, window: .seconds(3)).fire == [tick])
    }

    @Test func outageWithAnOnTimeTick() throws {
        // Due 10:01 ... 10:05; 10:05 is 0.5 s late, the rest missed.
        let last = "2026-01-01T10:00:00Z"
        let now = "2026-01-01T10:05:00.5Z"
        let missedFour = MissedTickSummary(count: 4, first: minutes([1])[0], last: minutes([4])[0], listed: minutes([1, 2, 3, 4]))
        for policy in [MissedTicks.skip, .latest] {
            let result = try plan("* * * * *", last: last, now: now, policy)
            #expect(result.fire == minutes([5]))
            #expect(result.missed == missedFour)
            #expect(result.next == minutes([6])[0])
        }
        let all = try plan("* * * * *", last: last, now: now, .all)
        #expect(all.fire == minutes([1, 2, 3, 4, 5]))
        #expect(all.missed == .none)
        // A 120 s window reaches back to 10:03:00.5: 10:04 and 10:05 fire.
        let windowed = try plan("* * * * *", last: last, now: now, .all, window: .seconds(120))
        #expect(windowed.fire == minutes([4, 5]))
        #expect(windowed.missed == MissedTickSummary(count: 3, first: minutes([1])[0], last: minutes([3])[0],
                                                     listed: minutes([1, 2, 3])))
        // A zero window is `skip` with the on-time tick.
        let zero = try plan("* * * * *", last: last, now: now, .all, window: .zero)
        #expect(zero.fire == minutes([5]))
        #expect(zero.missed == missedFour)
    }

    @Test func outageWithoutAnOnTimeTick() throws {
        let last = "2026-01-01T10:00:00Z"
        let now = "2026-01-01T10:05:30Z"
        let skipped = try plan("* * * * *", last: last, now: now, .skip)
        #expect(skipped.fire.isEmpty)
        #expect(skipped.missed.count == 5)
        #expect(skipped.missed.listed == minutes([1, 2, 3, 4, 5]))
        let latest = try plan("* * * * *", last: last, now: now, .latest)
        #expect(latest.fire == minutes([5]))
        #expect(latest.missed == MissedTickSummary(count: 4, first: minutes([1])[0], last: minutes([4])[0],
                                                   listed: minutes([1, 2, 3, 4])))
        #expect(try plan("* * * * *", last: last, now: now, .all).fire == minutes([1, 2, 3, 4, 5]))
    }

    @Test func neverTickedCountsFromCreation() throws {
        let result = try plan("* * * * *", last: nil, created: "2026-01-01T10:00:30Z", now: "2026-01-01T10:03:00Z", .skip)
        #expect(result.fire == minutes([3]))
        #expect(result.missed.listed == minutes([1, 2]))
        // Created after the last tick: nothing is due.
        let fresh = try plan("* * * * *", last: nil, created: "2026-01-01T10:02:30Z", now: "2026-01-01T10:02:40Z", .all)
        #expect(fresh.fire.isEmpty)
        #expect(fresh.missed == .none)
        #expect(fresh.next == minutes([3])[0])
        // Created exactly at a tick: that tick is not due (strictly after creation).
        let atTick = try plan("* * * * *", last: nil, created: "2026-01-01T10:02:00Z", now: "2026-01-01T10:02:00.5Z", .all)
        #expect(atTick.fire.isEmpty)
    }

    @Test func clockBehindTheLastTick() throws {
        // Another host recorded a tick ahead of this host's clock: nothing is due, and the next tick is after it.
        let result = try plan("* * * * *", last: "2026-01-01T10:05:00Z", now: "2026-01-01T10:03:10Z", .all)
        #expect(result.fire.isEmpty)
        #expect(result.missed == .none)
        #expect(result.next == minutes([6])[0])
    }

    /// A per-second schedule down for a week: 604,800 due ticks, counted exactly without visiting them.
    @Test func weekLongOutageOfAPerSecondSchedule() throws {
        let last = "2026-01-01T00:00:00Z"
        let now = "2026-01-08T00:00:00.5Z"
        let end = at("2026-01-08T00:00:00Z")
        // end - 1 and end are at most 2 s late: both on time.
        let latest = try plan("* * * * * *", last: last, now: now, .latest)
        #expect(latest.fire == [end - 1, end])
        #expect(latest.missed.count == 604_798)
        #expect(latest.missed.first == at("2026-01-01T00:00:01Z"))
        #expect(latest.missed.last == end - 2)
        #expect(latest.missed.listed.count == TickPlan.defaultMissedListLimit)
        #expect(latest.missed.listed.last == at("2026-01-01T00:01:40Z"))
        let all = try plan("* * * * * *", last: last, now: now, .all, window: .seconds(7 * 86_400))
        #expect(all.fire.count == 1_000)
        #expect(all.fire.first == end - 999)
        #expect(all.fire.last == end)
        #expect(all.missed.count == 604_800 - 1_000)
        #expect(all.missed.last == end - 1_000)
        let skip = try plan("* * * * * *", last: last, now: now, .skip)
        #expect(skip.fire == [end - 1, end])
        #expect(skip.missed.count == 604_798)
    }

    @Test func limitKeepsTheNewest() throws {
        let result = try plan("* * * * *", last: "2026-01-01T10:00:00Z", now: "2026-01-01T10:10:00Z", .all, limit: 3)
        #expect(result.fire == minutes([8, 9, 10]))
        #expect(result.missed.count == 7)
        #expect(result.missed.last == minutes([7])[0])
        // A limit of 0 fires nothing and records every due tick as missed.
        let none = try plan("* * * * *", last: "2026-01-01T10:00:00Z", now: "2026-01-01T10:10:00Z", .all, limit: 0)
        #expect(none.fire.isEmpty)
        #expect(none.missed.count == 10)
        #expect(none.missed.last == minutes([10])[0])
        // Also when the newest tick is a spring-forward gap's (an instant of its own, not a civil run).
        let gap = try plan("30 2 * * *", last: "2026-03-28T01:30:00Z", now: "2026-03-29T01:00:00Z", .latest, limit: 0,
                           in: berlin)
        #expect(gap.fire.isEmpty)
        #expect(gap.missed.listed == [at("2026-03-29T03:00:00+02:00")])
        // A lateness wider than the limit is bounded too.
        let wide = try plan("* * * * * *", last: "2026-01-01T10:00:00Z", now: "2026-01-01T10:00:20Z", .skip,
                            lateness: .seconds(10), limit: 5)
        #expect(wide.fire == (16...20).map { at("2026-01-01T10:00:00Z") + Double($0) })
        #expect(wide.missed.count == 15)
    }

    @Test func countsAcrossDaylightSaving() throws {
        // The Berlin fall-back day has 25 hours, so 25 hourly ticks; the fixed 02:30 fires once.
        let hourly = try plan("0 * * * *", last: "2026-10-24T22:00:00Z", now: "2026-10-25T23:00:10Z", .skip, in: berlin)
        #expect(hourly.missed.count == 25)
        #expect(hourly.fire.isEmpty)
        let spring = try plan("0 * * * *", last: "2026-03-28T23:00:00Z", now: "2026-03-29T22:00:00.5Z", .skip, in: berlin)
        #expect(spring.missed.count == 22)
        #expect(spring.fire == [at("2026-03-29T22:00:00Z")])
        let fixed = try plan("30 2 * * *", last: "2026-10-24T00:30:00Z", now: "2026-10-25T12:00:00Z", .all,
                             window: .seconds(86_400), in: berlin)
        #expect(fixed.fire == [at("2026-10-25T02:30:00+02:00")])
        #expect(fixed.next == at("2026-10-26T02:30:00+01:00"))
        let gap = try plan("30 2 * * *", last: "2026-03-28T01:30:00Z", now: "2026-03-29T12:00:00Z", .latest, in: berlin)
        #expect(gap.fire == [at("2026-03-29T03:00:00+02:00")])
        #expect(gap.missed == .none)
    }

    @Test func policiesHaveNames() {
        #expect(MissedTicks.allCases.map(\.rawValue) == ["skip", "latest", "all"])
        #expect(MissedTicks.default == .latest)
        #expect(MissedTicks(rawValue: "latest") == .latest)
    }
}
