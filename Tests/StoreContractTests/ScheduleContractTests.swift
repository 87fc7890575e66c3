import Foundation
import Journal
import PostgresJournal
import Schedules
import Testing
import WorkerStore
import WorkerTestKit

/// Durable schedules on every store: the definition, the operator's changes, and the fire transaction's one job
/// per tick. Ticks are judged by the instants the store recorded, never by how long a test waited.
@Suite struct ScheduleContractTests {
    private static func everySecond(_ name: String, missed: MissedTicks = .latest, noOverlap: Bool = false) -> ScheduleDefinition {
        ScheduleDefinition(name: name, handler: "noop", cron: "* * * * * *", payload: #"{"from": "\#(name)"}"#, missed: missed, noOverlap: noOverlap)
    }

    /// Waits (really: the stores take the time from their own clocks) until `ticks` whole seconds have passed.
    private static func letTicksPass(_ ticks: Int) async throws {
        try await Task.sleep(for: .milliseconds(1000 * ticks + 300))
    }

    /// The fired ticks' events of `name`, oldest first.
    private static func events(_ store: any JobStore, _ name: String) async throws -> [ScheduleEvent] {
        try await store.schedule(named: name).recent.reversed()
    }

    @Test(arguments: StoreKind.allCases)
    func addListShowPauseResumeRemove(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let store = fixture.store
        let added = try await store.addSchedule(
            ScheduleDefinition(name: "nightly", handler: "report", cron: "0 3 * * *", timeZone: "Europe/Paris", queue: "reports", priority: 5),
            replace: false)
        #expect(added.definition.timeZone == "Europe/Paris" && added.pausedAt == nil && added.lastTick == nil)
        #expect(added.nextTick.map { $0 > added.createdAt } == true)
        #expect(await journalErrorCode { _ = try await store.addSchedule(ScheduleDefinition(name: "nightly", handler: "x", cron: "@hourly"), replace: false) } == .scheduleExists)
        let replaced = try await store.addSchedule(ScheduleDefinition(name: "nightly", handler: "report2", cron: "@hourly"), replace: true)
        #expect(replaced.definition.handler == "report2" && replaced.createdAt == added.createdAt)
        #expect(try await store.schedules().map(\.name) == ["nightly"])

        let paused = try await store.pauseSchedule("nightly")
        #expect(paused.pausedAt != nil)
        let resumed = try await store.resumeSchedule("nightly")
        #expect(resumed.pausedAt == nil && resumed.nextTick != nil)

        let job = try await store.runSchedule("nightly")
        #expect(job.schedule == "nightly" && job.handler == "report2" && job.state == .queued)
        let detail = try await store.schedule(named: "nightly")
        #expect(detail.schedule.lastJob == job.id)
        #expect(detail.recent.first?.outcome == .manual && detail.recent.first?.jobID == job.id)
        #expect(detail.totals[.manual] == 1)
        #expect(detail.recent.filter { $0.outcome == .changed }.map(\.reason) == [
            "resumed by operator", "paused by operator", "replaced (cron @hourly, UTC)", "added (cron 0 3 * * *, Europe/Paris)",
        ])

        try await store.removeSchedule("nightly")
        #expect(try await store.schedules().isEmpty)
        for action in ["show", "pause", "resume", "run", "remove"] {
            let code = await journalErrorCode {
                switch action {
                case "show": _ = try await store.schedule(named: "nightly")
                case "pause": _ = try await store.pauseSchedule("nightly")
                case "resume": _ = try await store.resumeSchedule("nightly")
                case "run": _ = try await store.runSchedule("nightly")
                default: try await store.removeSchedule("nightly")
                }
            }
            #expect(code == .scheduleNotFound, "\(action)")
        }
        #expect(try await store.job(job.id).schedule == "nightly", "a removed schedule's jobs stay")
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func badDefinitionsAreRefusedWithTheirReason(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let store = fixture.store
        func refusal(_ definition: ScheduleDefinition) async -> JournalError? {
            do {
                _ = try await store.addSchedule(definition, replace: false)
                return nil
            } catch {
                return error as? JournalError
            }
        }
        let cron = await refusal(ScheduleDefinition(name: "a", handler: "noop", cron: "61 * * * *"))
        #expect(cron?.code == .invalidArgument && cron?.message.contains("minute 61") == true)
        let zone = await refusal(ScheduleDefinition(name: "a", handler: "noop", cron: "@daily", timeZone: "Mars/Olympus"))
        #expect(zone?.code == .invalidArgument && zone?.message.contains("Mars/Olympus") == true)
        #expect(await refusal(ScheduleDefinition(name: "a", handler: "noop", cron: "@daily", payload: "{nope"))?.code == .invalidPayload)
        #expect(await refusal(ScheduleDefinition(name: "", handler: "noop", cron: "@daily"))?.code == .invalidArgument)
        #expect(try await store.schedules().isEmpty)
        await fixture.close()
    }

    /// Two store objects (two workers' views, their own connections) fire the same per-second schedule in tight
    /// loops: every tick is decided once and each fired tick has exactly one job.
    @Test(arguments: StoreKind.allCases)
    func racingFirersMakeOneJobPerTick(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        _ = try await fixture.store.addSchedule(Self.everySecond("race"), replace: false)
        let stores = [try await fixture.reopen(), try await fixture.reopen()]
        // Until four ticks fired between them (a loaded machine may take much longer than four seconds).
        let deadline = ContinuousClock.now + .seconds(120)
        let firings = try await withThrowingTaskGroup(of: [ScheduleFiring].self) { group in
            for (index, store) in stores.enumerated() {
                group.addTask {
                    var mine: [ScheduleFiring] = []
                    let start = ContinuousClock.now
                    while ContinuousClock.now < deadline, try await store.schedule(named: "race").totals[.fired] ?? 0 < 4 {
                        do {
                            let round = try await store.fireDueSchedules(worker: "w\(index)", onTimeWithin: .now - start)
                            mine += round.firings
                        } catch let error as JournalError where error.code == .busy {
                            continue  // SQLite's lock, or a lost compare-and-set: the other one fired
                        }
                        try await Task.sleep(for: .milliseconds(5))
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        let fired = firings.flatMap(\.fired)
        #expect(fired.count >= 4, "both loops ran until four ticks fired")
        #expect(Set(fired.map(\.tick)).count == fired.count, "no tick fired twice")
        let jobs = try await fixture.store.jobs(JobFilter(limit: 1000)).filter { $0.schedule == "race" }
        #expect(Set(jobs.map(\.id)) == Set(fired.map(\.job)))
        let events = try await Self.events(fixture.store, "race").filter { $0.outcome == .fired }
        #expect(events.map(\.tick) == fired.map(\.tick).sorted().map { Optional($0) })
        #expect(events.allSatisfy { $0.tick! % 1_000_000 == 0 }, "ticks are whole seconds")
        await fixture.close()
    }

    /// Ticks that fell due before anyone looked: `skip` fires none, `latest` the most recent, `all` every one; the
    /// others are one missed record with their count.
    @Test(arguments: StoreKind.allCases)
    func missedTicksFollowThePolicy(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let store = fixture.store
        for policy in MissedTicks.allCases {
            _ = try await store.addSchedule(Self.everySecond("missed-\(policy.rawValue)", missed: policy), replace: false)
        }
        try await Self.letTicksPass(3)
        let round = try await store.fireDueSchedules(worker: "w1", onTimeWithin: .zero)  // a first look: all due ticks were missed
        for policy in MissedTicks.allCases {
            let name = "missed-\(policy.rawValue)"
            let firing = try #require(round.firings.first { $0.schedule == name })
            let detail = try await store.schedule(named: name)
            let due = firing.fired.count + firing.missed
            #expect(due >= 3, "\(policy): \(due) ticks due")
            switch policy {
            case .skip: #expect(firing.fired.isEmpty && firing.missed == due)
            case .latest: #expect(firing.fired.count == 1 && firing.missed == due - 1)
            case .all: #expect(firing.missed == 0)
            }
            let missedEvents = detail.recent.filter { $0.outcome == .missed }
            #expect(missedEvents.count == (firing.missed > 0 ? 1 : 0), "one record for the whole range")
            #expect(missedEvents.first.map(\.count) == (firing.missed > 0 ? firing.missed : nil))
            #expect(detail.totals[.fired] ?? 0 == firing.fired.count && detail.totals[.missed] ?? 0 == firing.missed)
            if let last = firing.fired.last { #expect(detail.schedule.lastTick == last.tick && detail.schedule.lastJob == last.job) }
            #expect(detail.schedule.nextTick.map { $0 > detail.schedule.lastTick! } == true)
        }
        // Looking again soon after a look: nothing newly due is missed (a worker that looks keeps up). The look just
        // before it settles what fell due during the checks above: they took over 60 s under two whole suites at
        // once, longer than any caller counts as on time (`ScheduleRules.maxLateness`, the bound asked for here).
        _ = try await store.fireDueSchedules(worker: "w1", onTimeWithin: .zero)
        let again = try await store.fireDueSchedules(worker: "w1", onTimeWithin: ScheduleRules.maxLateness)
        #expect(again.firings.allSatisfy { $0.missed == 0 })
        await fixture.close()
    }

    /// Ticks that fell due while the caller was ready to fire (a worker looking late on a loaded machine) are on
    /// time: they fire even under `skip`, and nothing is missed.
    @Test(arguments: StoreKind.allCases)
    func lateLooksOfAReadyWorkerMissNothing(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        _ = try await fixture.store.addSchedule(Self.everySecond("late-look", missed: .skip), replace: false)
        try await Self.letTicksPass(2)
        let round = try await fixture.store.fireDueSchedules(worker: "w1", onTimeWithin: .seconds(60))
        let firing = try #require(round.firings.first)
        #expect(firing.fired.count >= 2 && firing.missed == 0, "\(firing.fired.count) fired, \(firing.missed) missed")
        await fixture.close()
    }

    /// A month-long outage of a per-second schedule: `all` fires the newest 1,000 ticks of its window and the
    /// 2.6 million others are one missed record with their exact count. (SQLite: a manual clock; PostgreSQL, whose
    /// clock is the server's: the schedule's times moved back a month.)
    @Test(arguments: StoreKind.allCases)
    func aLongOutageIsOneRecord(kind: StoreKind) async throws {
        let month: Micros = 30 * 86_400 * 1_000_000
        let definition = ScheduleDefinition(name: "long", handler: "noop", cron: "* * * * * *", missed: .all)
        let store: any JobStore
        var cleanup: () async -> Void
        switch kind {
        case .sqlite:
            let directory = try TemporaryDirectory("long")
            let clock = ManualClock()
            var options = JournalOptions()
            options.clock = WallClock { clock.now }
            store = try Journal(path: directory.file("worker.sqlite3"), options: options)
            _ = try await store.addSchedule(definition, replace: false)
            clock.advance(seconds: Double(month / 1_000_000))
            cleanup = { directory.remove() }
        case .postgres:
            let url = try await PostgresTestServer.shared.database("long")
            var options = PostgresJournalOptions()
            options.connectTimeout = .seconds(60)
            options.statementTimeout = .seconds(120)
            let journal = try await PostgresJournal.open(try PostgresLocation(url: url), options: options)
            store = journal
            _ = try await store.addSchedule(definition, replace: false)
            _ = try await PostgresTestServer.shared.psql(url, """
                UPDATE schedules SET created_at = created_at - \(month), next_tick = next_tick - \(month);
                UPDATE schedule_events SET at = at - \(month)
                """)
            cleanup = { await journal.close() }
        }
        let round = try await store.fireDueSchedules(worker: "w1", onTimeWithin: .zero)
        let firing = try #require(round.firings.first)
        #expect(firing.fired.count == 1000, "at most 1,000 jobs")
        #expect(firing.missed + firing.fired.count >= 2_592_000, "every tick of the month decided: \(firing.missed) missed")
        let detail = try await store.schedule(named: "long", recent: 5000)
        let missed = detail.recent.filter { $0.outcome == .missed }
        #expect(missed.count == 1 && missed.first?.count == firing.missed, "one record for the whole range")
        #expect(detail.recent.filter { $0.outcome == .fired }.count == 1000)
        #expect(missed.first?.lastTick.map { $0 + 1_000_000 } == firing.fired.first?.tick, "the newest ticks fire, the older are missed")
        await cleanup()
    }

    /// `no overlap`: a tick while the previous job is unfinished is skipped with the reason; once it finished, the
    /// next tick fires.
    @Test(arguments: StoreKind.allCases)
    func noOverlapSkipsWhileThePreviousJobIsUnfinished(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let store = fixture.store
        _ = try await store.addSchedule(Self.everySecond("single", noOverlap: true), replace: false)
        let start = ContinuousClock.now
        var fired: [Int64] = []
        var skipped: [Micros] = []
        // Fire until one job exists and at least one later tick was skipped because of it.
        let deadline = ContinuousClock.now + .seconds(90)  // rounds took seconds each under two whole suites at once
        while (fired.isEmpty || skipped.isEmpty) && ContinuousClock.now < deadline {
            let round = try await store.fireDueSchedules(worker: "w1", onTimeWithin: .now - start)
            fired += round.firings.flatMap(\.fired).map(\.job)
            skipped += round.firings.flatMap(\.skipped)
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(fired.count == 1 && !skipped.isEmpty)
        let skip = try #require(try await store.schedule(named: "single").recent.first { $0.outcome == .skipped })
        #expect(skip.reason.contains("job \(fired[0])") && skip.reason.contains("unfinished"))
        // The job finishes: the next tick fires again.
        _ = try await fixture.claim(1)
        _ = try await fixture.finish(fired[0], .completed)
        var next: [Int64] = []
        let secondDeadline = ContinuousClock.now + .seconds(90)  // its own: under load the first wait can use up its own
        while next.isEmpty && ContinuousClock.now < secondDeadline {
            let round = try await store.fireDueSchedules(worker: "w1", onTimeWithin: .now - start)
            next += round.firings.flatMap(\.fired).map(\.job)
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(next.count == 1)
        await fixture.close()
    }

    /// A paused schedule fires nothing, and its paused ticks are not caught up on resume; a schedule whose
    /// handler nobody serves still fires (its job waits).
    @Test(arguments: StoreKind.allCases)
    func pausedSchedulesDoNotFire(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let store = fixture.store
        _ = try await store.addSchedule(
            ScheduleDefinition(name: "p", handler: "nobody-serves-this", cron: "* * * * * *", missed: .all), replace: false)
        _ = try await store.pauseSchedule("p")
        try await Self.letTicksPass(2)
        let paused = try await store.fireDueSchedules(worker: "w1", onTimeWithin: .zero)
        #expect(paused.firings.isEmpty)
        let resumed = try await store.resumeSchedule("p")
        #expect(resumed.lastTick != nil)
        try await Self.letTicksPass(1)
        let round = try await store.fireDueSchedules(worker: "w1", onTimeWithin: .seconds(60))
        let firing = try #require(round.firings.first)
        #expect(!firing.fired.isEmpty && firing.missed == 0, "only ticks after the resume")
        #expect(firing.fired.allSatisfy { $0.tick > resumed.updatedAt })
        let job = try await store.job(firing.fired[0].job)
        #expect(job.state == .queued && job.handler == "nobody-serves-this")
        await fixture.close()
    }
}
