import Foundation
import Testing
import WorkerStore
import WorkerTestKit

/// What operators and the admin endpoint read and change, on every store.
@Suite struct OperatorContractTests {
    @Test(arguments: StoreKind.allCases)
    func pagesFollowTheirCursorAndFilters(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        var mail: [Int64] = []
        for index in 0..<25 {
            mail.append(try await fixture.enqueue("mail", payload: #"{"to": "user\#(index)@example.com"}"#, queue: "mail"))
            _ = try await fixture.enqueue("report", queue: "reports")
        }
        var seen: [Int64] = []
        var filter = JobFilter(handler: "mail", limit: 10)
        while true {
            let page = try await fixture.store.jobPage(filter)
            seen += page.jobs.map(\.id)
            guard let next = page.next else { break }
            filter.after = next
        }
        #expect(seen == mail)
        let newest = try await fixture.store.jobPage(JobFilter(queue: "mail", limit: 3, newestFirst: true)).jobs.map(\.id)
        #expect(newest == Array(mail.suffix(3).reversed()))
        let found = try await fixture.store.jobs(JobFilter(search: "user7@"))
        #expect(found.map(\.id) == [mail[7]])
        #expect(try await fixture.store.jobs(JobFilter(state: .queued, limit: 1000)).count == 50)
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func statsOverviewAndDepthCountEveryState(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        for state in JobState.allCases { _ = try await fixture.job(in: state) }
        let stats = try await fixture.store.stats()
        #expect(Set(stats.keys) == Set(JobState.allCases))
        #expect(stats.values.allSatisfy { $0 == 1 })
        let overview = try await fixture.store.overview()
        #expect(overview.counts["default"]?.values.reduce(0, +) == JobState.allCases.count)
        #expect(overview.workers.map(\.registration.id) == [fixture.worker])
        #expect(overview.oldestQueued["default"] != nil)
        let depth = try await fixture.store.depth()
        #expect(depth.contains(QueueDepth(queue: "default", state: .dead, count: 1)))
        #expect(try await fixture.store.activeJobCount() == 4)  // queued, running, retrying, interrupted
        #expect(try await fixture.store.oldestQueuedAge()["default"] ?? -1 >= 0)
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func bulkRetryActsOnWhatItPlannedAndSkipsWhatMovedOn(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        var dead: [Int64] = []
        for _ in 0..<5 { dead.append(try await fixture.job(in: .dead)) }
        let queued = try await fixture.enqueue("only-dead")
        let plan = try await fixture.store.plan(.retry, JobFilter(handler: "only-dead", limit: 1000))
        #expect(plan.accepted.map(\.id) == dead)
        #expect(plan.skipped == ["queued": 1])
        _ = try await fixture.store.retry(job: dead[0])  // moved on between the plan and its execution
        let result = try await fixture.store.apply(plan, reason: "bulk retry by test", progress: { _ in })
        #expect(result.changed == 4)
        for id in dead { #expect(try await fixture.store.job(id).state == .queued) }
        #expect(try await fixture.store.job(queued).state == .queued)
        #expect(try await fixture.store.events(job: dead[1]).last?.reason.contains("bulk retry by test") == true)
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func pruningDeletesOnlyCompletedJobsFinishedBeforeTheCutoff(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        var completed: [Int64] = []
        for _ in 0..<3 { completed.append(try await fixture.job(in: .completed)) }
        let dead = try await fixture.job(in: .dead)
        let cutoff = WallClock.system.now() + 60_000_000
        #expect(try await fixture.store.completedCount(finishedBefore: cutoff) == 3)
        #expect(try await fixture.store.completedCount(finishedBefore: 0) == 0)
        #expect(try await fixture.store.pruneCompleted(finishedBefore: cutoff, limit: 2) == 2)
        #expect(try await fixture.store.pruneCompleted(finishedBefore: cutoff, limit: 500) == 1)
        for id in completed { #expect(await journalErrorCode { _ = try await fixture.store.job(id) } == .jobNotFound) }
        #expect(try await fixture.store.job(dead).state == .dead)
        #expect(try await fixture.store.verify().isSound)
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func handlersNoWorkerServedAreNamed(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind, registering: false)
        #expect(try await fixture.store.unservedHandlers(among: ["mail"]) == nil, "no worker ever served: nothing to compare")
        try await fixture.store.register(WorkerRegistration(id: "w1", pid: 1, host: "h", processStartedAt: nil, version: "t", handlers: ["mail", "noop"]))
        #expect(try await fixture.store.unservedHandlers(among: ["mail", "mial"]) == ["mial"])
        _ = try await fixture.enqueue("mial")
        #expect(try await fixture.store.waitingHandlers(notIn: ["mail", "noop"]) == ["mial"])
        #expect(try await fixture.store.waitingByHandler().map(\.handler) == ["mial"])
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func migrationsAreListed(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let applied = try await fixture.store.appliedMigrations()
        #expect(applied.first == "0001_initial" && applied == applied.sorted())
        await fixture.close()
    }
}

/// Workers, liveness, checkpoints and steps, on every store.
@Suite struct WorkerContractTests {
    @Test(arguments: StoreKind.allCases)
    func aLiveWorkerIsNeverRecoveredAndADeregisteredOneIsGone(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let running = try await fixture.job(in: .running)
        let peer = try await fixture.reopen()
        try await fixture.register("w2", on: peer)
        #expect(try await peer.recoverDeadWorkers(recoverer: "w2", maxCrashes: 3).allSatisfy { $0.jobs.isEmpty })
        #expect(try await peer.deadWorkers(except: "w2").isEmpty)
        #expect(try await fixture.store.job(running).state == .running)
        #expect(try await peer.isLive(worker: "w1"))
        #expect(try await peer.liveWorkerCount() == 2)
        #expect(await journalErrorCode { try await fixture.store.deregister(worker: "w1", reason: "stop") } == .illegalTransition,
                "a worker holding a running job must give it back first")
        _ = try await fixture.finish(running, .interrupted(reason: "worker stopping"))
        try await fixture.store.deregister(worker: "w1", reason: "stop")
        #expect(try await peer.isLive(worker: "w1") == false)
        #expect(try await peer.liveWorkerCount() == 1)
        #expect(await journalErrorCode { _ = try await fixture.claim() } == .workerNotRegistered)
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func checkpointsAndStepsAreKeptForTheHolderOnly(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        try await fixture.register("w2")
        let id = try await fixture.job(in: .running)
        let store = fixture.store
        try await blocking { try store.checkpointBlocking(job: id, worker: "w1", data: Data("at 40".utf8)) }
        #expect(try await store.job(id).checkpoint == Data("at 40".utf8))
        #expect(try await blocking { try store.beginStepBlocking(job: id, worker: "w1", name: "charge") } == nil)
        try await blocking { try store.commitStepBlocking(job: id, worker: "w1", name: "charge", result: Data("ok".utf8)) }
        let record = try await blocking { try store.beginStepBlocking(job: id, worker: "w1", name: "charge") }
        #expect(record?.result == Data("ok".utf8) && record?.completedAt != nil)
        _ = try await blocking { try store.beginStepBlocking(job: id, worker: "w1", name: "mail") }
        try await blocking { try store.failStepBlocking(job: id, worker: "w1", name: "mail", error: "smtp down") }
        let steps = try await store.steps(job: id)
        #expect(steps.map(\.name).sorted() == ["charge", "mail"])
        #expect(steps.first { $0.name == "mail" }?.error == "smtp down")
        do {
            try await blocking { try store.checkpointBlocking(job: id, worker: "w2", data: Data("stolen".utf8)) }
            Issue.record("a worker not holding the job saved its checkpoint")
        } catch let error as JournalError {
            #expect(error.code == .notHeld)
        }
        #expect(try await store.job(id).checkpoint == Data("at 40".utf8))
        await fixture.close()
    }
}
