import Foundation
import Testing
import WorkerStore
import WorkerTestKit

/// What the dashboard reads and changes, on every store: changes that name who asked for them, the schedule
/// filter, the activity rollup, the workers' summaries and the counts that stay cheap with millions of jobs.
@Suite struct DashboardContractTests {
    static let dashboard = ChangeOrigin.dashboard(client: "127.0.0.1")

    @Test(arguments: StoreKind.allCases)
    func changesNameWhoAskedForThem(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let store = fixture.store
        let id = try await fixture.enqueue()
        guard case .cancelled = try await store.cancel(job: id, by: Self.dashboard) else {
            Issue.record("job \(id) was not cancelled")
            return
        }
        _ = try await store.retry(job: id, by: Self.dashboard)
        _ = try await store.cancel(job: id)
        _ = try await store.retry(job: id)
        #expect(try await store.events(job: id).map(\.reason) == [
            "enqueued", "cancelled by dashboard (client 127.0.0.1)", "retried by dashboard (client 127.0.0.1)",
            "cancelled by operator", "retried by operator",
        ])
        let running = try await fixture.job(in: .running)
        guard case .requested = try await store.cancel(job: running, by: Self.dashboard) else {
            Issue.record("running job \(running) got no cancel request")
            return
        }
        #expect(try await store.job(running).cancelRequestedAt != nil)

        _ = try await store.addSchedule(ScheduleDefinition(name: "nightly", handler: "report", cron: "0 3 * * *"), replace: false)
        let byDashboard = try await store.runSchedule("nightly", by: Self.dashboard)
        let byOperator = try await store.runSchedule("nightly")
        let manual = try await store.schedule(named: "nightly").recent.filter { $0.outcome == .manual }
        #expect(manual.map(\.jobID) == [byOperator.id, byDashboard.id])
        #expect(manual.map(\.reason) == ["run by operator", "run by dashboard (client 127.0.0.1)"])

        let paused = try await store.edit(queue: "mail", .pause, by: Self.dashboard)
        #expect(paused.pausedAt != nil)
        #expect(try await store.queueSettings().first { $0.name == "mail" }?.pausedAt != nil)
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func theScheduleFilterSelectsTheJobsAScheduleFired(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let store = fixture.store
        for name in ["nightly", "hourly"] {
            _ = try await store.addSchedule(ScheduleDefinition(name: name, handler: "report", cron: "0 3 * * *"), replace: false)
        }
        var nightly: [Int64] = []
        for _ in 0..<5 {
            nightly.append(try await store.runSchedule("nightly").id)
            _ = try await store.runSchedule("hourly")
            _ = try await fixture.enqueue("report")
        }
        #expect(try await store.jobs(JobFilter(schedule: "nightly")).map(\.id) == nightly)
        #expect(try await store.jobs(JobFilter(schedule: "none")).isEmpty)
        var seen: [Int64] = []
        var filter = JobFilter(limit: 2, newestFirst: true, schedule: "nightly")
        while true {
            let page = try await store.jobPage(filter)
            seen += page.jobs.map(\.id)
            guard let next = page.next else { break }
            filter.after = next
        }
        #expect(seen == nightly.reversed())
        _ = try await store.cancel(job: nightly[0])
        #expect(try await store.jobs(JobFilter(state: .cancelled, schedule: "nightly")).map(\.id) == [nightly[0]])
        let plan = try await store.plan(.cancel, JobFilter(handler: "report", schedule: "nightly"))
        #expect(plan.accepted.map(\.id) == Array(nightly.dropFirst()))
        #expect(plan.skipped == ["cancelled": 1])
        let result = try await store.apply(plan, reason: "cancelled by dashboard (client 127.0.0.1) in bulk (schedule nightly)") { _ in }
        #expect(result.changed == 4)
        #expect(try await store.jobs(JobFilter(state: .queued, schedule: "hourly")).count == 5, "the other schedule's jobs stay")
        await fixture.close()
    }

    /// Every outcome a round records counts once, in its worker's row of the minute, summed over the workers; a
    /// refused outcome and a cancelled job count nowhere.
    @Test(arguments: StoreKind.allCases)
    func activityCountsWhatTheRoundsRecorded(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let store = fixture.store
        let before = WallClock.system.now()
        #expect(try await store.activity(since: before - 3_600_000_000).isEmpty)
        for _ in 0..<6 { _ = try await fixture.enqueue() }
        let jobs = try await fixture.claim(6).map(\.id)
        try #require(jobs.count == 6)
        let round = try await store.finishAndClaim(
            finished: [
                (jobs[0], .completed), (jobs[1], .completed), (jobs[2], .failed(error: "boom")),
                (jobs[3], .failed(error: "fatal", retryable: false)), (jobs[4], .interrupted(reason: "drain")),
                (jobs[5], .cancelled(reason: "asked")),
            ],
            claim: ClaimRequest(worker: fixture.worker, limit: 0))
        #expect(round.finished.allSatisfy { (try? $0.get()) != nil })
        // Refused: no longer held.
        #expect((try? await fixture.finish(jobs[0], .completed).get()) == nil)
        try await fixture.register("w2")
        let other = try await fixture.enqueue("other")
        #expect(try await fixture.claim(1, handlers: ["other"], worker: "w2").map(\.id) == [other])
        _ = try await store.finish(batch: [(other, .completed)], worker: "w2")

        let minutes = try await store.activity(since: before - 3_600_000_000)
        #expect(!minutes.isEmpty && minutes.allSatisfy { $0.minute % 60_000_000 == 0 && $0.minute >= before - 60_000_000 })
        #expect(minutes.map(\.minute) == minutes.map(\.minute).sorted())
        #expect(minutes.reduce(0) { $0 + $1.completed } == 3)
        #expect(minutes.reduce(0) { $0 + $1.failed } == 2)
        #expect(minutes.reduce(0) { $0 + $1.interrupted } == 1)
        #expect(try await store.activity(since: WallClock.system.now() + 120_000_000).isEmpty, "nothing after now")
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func workerSummariesListTheLiveFirstWithTheirRunningJobs(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let store = fixture.store
        for id in ["w2", "w3", "w4"] { try await fixture.register(id) }
        for _ in 0..<3 { _ = try await fixture.enqueue() }
        #expect(try await fixture.claim(2).count == 2)
        #expect(try await fixture.claim(1, worker: "w2").count == 1)
        try await store.deregister(worker: "w3", reason: "stop")
        try await store.deregister(worker: "w4", reason: "stop")

        let all = try await store.workerSummaries(limit: 50)
        #expect(all.map(\.record.registration.id) == ["w1", "w2", "w4", "w3"], "live by start, then the newest stopped")
        #expect(all.map(\.live) == [true, true, false, false])
        #expect(all.map(\.running) == [2, 1, 0, 0])
        #expect(all[2].record.stopReason == "stop" && all[2].record.stoppedAt != nil)
        for summary in all {
            #expect(try await store.isLive(worker: summary.record.registration.id) == summary.live)
        }
        #expect(try await store.workerSummaries(limit: 3).map(\.record.registration.id) == ["w1", "w2", "w4"])
        #expect(try await store.workerSummaries(limit: 0).isEmpty)
        await fixture.close()
    }

    /// The dashboard's counts match `overview()`'s for every state but `completed`, which they leave out.
    @Test(arguments: StoreKind.allCases)
    func countsExceptCompletedAgreeWithTheOverview(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        for state in JobState.allCases { _ = try await fixture.job(in: state) }
        _ = try await fixture.store.cancel(job: try await fixture.enqueue(queue: "mail"))
        _ = try await fixture.enqueue(queue: "mail")
        let counts = try await fixture.store.countsExceptCompleted()
        var expected = try await fixture.store.overview().counts
        for queue in expected.keys { expected[queue]?[.completed] = nil }
        #expect(counts == expected)
        #expect(counts["mail"] == [.cancelled: 1, .queued: 1])
        #expect(counts["default"]?.count == JobState.allCases.count - 1)
        await fixture.close()
    }

    /// A text search with a scan limit reads that many jobs at most per page, and its pages carry on from the last
    /// job read, so that a text no job holds costs a bounded read and every match is still found.
    @Test(arguments: StoreKind.allCases)
    func aBoundedSearchCarriesOnFromTheLastJobItRead(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        var ids: [Int64] = []
        for index in 1...30 {
            ids.append(try await fixture.enqueue(payload: [5, 25].contains(index) ? #"{"to": "needle"}"# : #"{"to": "hay"}"#))
        }
        for newestFirst in [false, true] {
            var filter = JobFilter(search: "needle", limit: 5, newestFirst: newestFirst, scanLimit: 10)
            var pages: [[Int64]] = []
            var cursors: [Int64?] = []
            while pages.count < 10 {
                let page = try await fixture.store.jobPage(filter)
                pages.append(page.jobs.map(\.id))
                cursors.append(page.next)
                guard let next = page.next else { break }
                filter.after = next
            }
            if newestFirst {
                #expect(pages == [[ids[24]], [], [ids[4]]])
                #expect(cursors == [ids[20], ids[10], nil])
            } else {
                #expect(pages == [[ids[4]], [], [ids[24]]])
                #expect(cursors == [ids[9], ids[19], nil])
            }
        }
        let full = try await fixture.store.jobPage(JobFilter(search: "needle", limit: 1, scanLimit: 30))
        #expect(full.jobs.map(\.id) == [ids[4]] && full.next == ids[4], "a page that filled ends where it ended")
        #expect(try await fixture.store.jobs(JobFilter(search: "needle")).map(\.id) == [ids[4], ids[24]], "no bound: every job read")
        #expect(await journalErrorCode { _ = try await fixture.store.jobPage(JobFilter(search: "x", scanLimit: 0)) } == .invalidArgument)
        await fixture.close()
    }
}
