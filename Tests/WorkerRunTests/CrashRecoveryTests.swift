import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

@Suite struct CrashRecoveryTests {
    /// A mixed workload: quick jobs, sleeps that checkpoint, appends with journaled steps.
    static func workload(_ fixture: RunFixture) async throws -> (ids: [Int64], effects: String) {
        let effects = fixture.directory.file("effects.txt")
        var ids: [Int64] = []
        for _ in 0..<4 { ids.append(try await fixture.enqueue("noop")) }
        for _ in 0..<3 { ids.append(try await fixture.enqueue("sleep", #"{"ms": 400}"#)) }
        for index in 0..<3 {
            ids.append(try await fixture.enqueue("append", #"{"path": "\#(effects)", "text": "a\#(index)", "steps": 3, "ms": 50}"#))
        }
        return (ids, effects)
    }

    /// After recovery: every job completed exactly once, every append line present, duplicates only for steps in
    /// flight at the kill (at most one per append job), the journal sound.
    static func expectRecovered(_ fixture: RunFixture, _ ids: [Int64], effects: String) async throws {
        for id in ids {
            let job = try await fixture.journal.job(id)
            #expect(job.state == .completed, "job \(id) is \(job.state)")
        }
        let lines = ((try? String(contentsOfFile: effects, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        for index in 0..<3 {
            for step in 1...3 {
                let count = lines.filter { $0 == "a\(index):\(step)" }.count
                #expect(count >= 1, "line a\(index):\(step) missing")
                #expect(count <= 2, "line a\(index):\(step) written \(count) times")
            }
            let duplicated = (1...3).filter { step in lines.filter { $0 == "a\(index):\(step)" }.count > 1 }
            #expect(duplicated.count <= 1, "append job \(index) repeated completed steps \(duplicated)")
        }
        try await fixture.expectSound()
    }

    @Test(arguments: StoreKind.allCases, [
        "after-claim", "before-commit", "commit:exchange", "commit:exchange@4", "commit:checkpoint", "commit:step-begin",
        "commit:step-commit", "commit:checkpoint@3",
    ])
    func sigkillAtAWritePointLosesNothing(store: StoreKind, point: String) async throws {
        let fixture = try await RunFixture.make(store)
        defer { fixture.remove() }
        let (ids, effects) = try await Self.workload(fixture)
        let doomed = try await fixture.start(["--concurrency", "4"], environment: ["WORKER_CRASH_AT": point])
        let exit = await doomed.waitForExit(timeout: .seconds(60))
        #expect(exit?.signal == SIGKILL, "the crash point \(point) was not reached: \(doomed.log)")
        try await fixture.runUntilIdle()
        try await Self.expectRecovered(fixture, ids, effects: effects)
        let recovered = try await fixture.journal.jobs(JobFilter(limit: 100)).filter { $0.crashes > 0 }
        if point != "after-claim" && point != "commit:exchange" {
            #expect(!recovered.isEmpty, "no job was found orphaned after \(point)")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func sigkillDuringDrainFinalisationLosesNothing(store: StoreKind) async throws {
        let fixture = try await RunFixture.make(store)
        defer { fixture.remove() }
        let (ids, effects) = try await Self.workload(fixture)
        let long = try await fixture.enqueue("sleep", #"{"ms": 30000}"#)
        let doomed = try await fixture.start(["--drain-timeout", "0.3"], environment: ["WORKER_CRASH_AT": "drain-finalize"])
        #expect(await doomed.waitForLog("job \(long) sleep started"))
        doomed.signal(SIGTERM)
        let exit = await doomed.waitForExit()
        #expect(exit?.signal == SIGKILL, "\(doomed.log)")
        _ = try await fixture.journal.cancel(job: long)  // it would sleep 30 s more; cancelled once recovered
        try await fixture.runUntilIdle()
        try await Self.expectRecovered(fixture, ids, effects: effects)
    }

    @Test(arguments: StoreKind.allCases)
    func aJobThatKeepsKillingTheWorkerEndsDead(store: StoreKind) async throws {
        let fixture = try await RunFixture.make(store)
        defer { fixture.remove() }
        let poison = try await fixture.enqueue("crash", #"{"how": "abort"}"#)
        let fine = try await fixture.enqueue("noop")
        var deaths = 0
        for run in 1...5 {
            let worker = try await fixture.start(["--exit-when-idle", "--concurrency", "1"], log: "run\(run).log")
            let exit = await worker.waitForExit(timeout: .seconds(60))
            if exit?.status == 0 { break }
            #expect(exit?.signal == SIGABRT, "\(worker.log)")
            deaths += 1
        }
        #expect(deaths == 3)
        let job = try await fixture.journal.job(poison)
        #expect(job.state == .dead)
        #expect(job.crashes == 3)
        #expect(job.lastError?.contains("poison") == true)
        #expect(try await fixture.journal.job(fine).state == .completed)
        try await fixture.expectSound()
    }

    @Test(arguments: StoreKind.allCases)
    func jobsThatRanBesideAPoisonJobAreNotCountedAsPoison(store: StoreKind) async throws {
        let fixture = try await RunFixture.make(store)
        defer { fixture.remove() }
        // 10 s: the bystanders must still be sleeping at both of the poison job's crashes on a loaded machine.
        let bystanders = [try await fixture.enqueue("sleep", #"{"ms": 10000}"#), try await fixture.enqueue("sleep", #"{"ms": 10000}"#)]
        // The poison job starts after the bystanders are running, and takes the process down under them.
        let first = try await fixture.start(["--concurrency", "3"], log: "first.log")
        for id in bystanders { #expect(await first.waitForLog("job \(id) sleep started")) }
        let poison = try await fixture.enqueue("crash", #"{"how": "abort"}"#)
        #expect(await first.waitForExit(timeout: .seconds(30))?.signal == SIGABRT, "\(first.log)")
        // After that the three run together again (one death is not enough to suspect a job), and the poison job
        // takes the next worker down with the bystanders; from then on each runs alone (its next death would end
        // it `dead`): the poison job crashes only itself, and the bystanders never reach the limit.
        for run in 1...5 {
            let worker = try await fixture.start(["--exit-when-idle", "--concurrency", "3"], log: "run\(run).log")
            // Patient: a run that overstays is killed, and that kill would be a death of whatever it was running.
            let exit = await worker.waitForExit(timeout: .seconds(240))
            if exit == nil { Issue.record("run \(run) did not end: \(worker.log.suffix(1000))") }
            if exit?.status == 0 { break }
        }
        let dead = try await fixture.journal.job(poison)
        #expect(dead.state == .dead)
        #expect(dead.crashes == 3)
        for id in bystanders {
            let job = try await fixture.journal.job(id)
            #expect(job.state == .completed, "bystander \(id) is \(job.state) after \(job.crashes) crash(es)")
            #expect(job.crashes == 2)
        }
        try await fixture.expectSound()
    }

    @Test(arguments: StoreKind.allCases)
    func twoWorkersShareADatabaseAndALiveOneRecoversADeadPeer(store: StoreKind) async throws {
        let fixture = try await RunFixture.make(store)
        defer { fixture.remove() }
        // Both are up before there is work, so that neither can take it all; nothing is claimed ahead.
        let first = try await fixture.start(["--concurrency", "3", "--prefetch", "0"], log: "a.log")
        let second = try await fixture.start(["--concurrency", "3", "--prefetch", "0"], log: "b.log")
        #expect(await first.waitForLog("ready:"), "\(first.log)")
        #expect(await second.waitForLog("ready:"), "\(second.log)")
        let ids = try await fixture.journal.enqueue(batch: Array(repeating: NewJob(handler: "sleep", payload: #"{"ms": 100}"#), count: 30)).map(\.id)
        let done = try await eventually { (try await fixture.journal.stats()[.completed] ?? 0) == ids.count }
        let stats = try await fixture.journal.stats()
        #expect(done, "\(stats)")
        for worker in [first, second] {
            worker.signal(SIGTERM)
            #expect(await worker.waitForExit()?.status == 0, "\(worker.log)")
        }
        var workers = Set<String>()
        for id in ids {
            #expect(try await fixture.journal.job(id).state == .completed)
            for event in try await fixture.journal.events(job: id) where event.to == .running { workers.insert(event.workerID ?? "") }
        }
        #expect(workers.count == 2, "both workers must have run jobs: \(workers)")
        try await fixture.expectSound()

        // A live worker notices a dead peer and takes its jobs back, without a restart.
        // 20 s: the jobs must outlast the survivor's start on a loaded machine (a resumed sleep sleeps only what is left).
        let held = [try await fixture.enqueue("sleep", #"{"ms": 20000}"#), try await fixture.enqueue("sleep", #"{"ms": 20000}"#)]
        let doomed = try await fixture.start(["--concurrency", "2"], log: "doomed.log")
        #expect(await doomed.waitForLog("job \(held[1]) sleep started"))
        let survivor = try await fixture.start(["--concurrency", "2"], log: "survivor.log")
        #expect(await survivor.waitForLog("ready:"))
        for id in held { try #require(try await fixture.journal.job(id).state == .running, "job \(id) ended before the kill") }
        doomed.signal(SIGKILL)
        _ = await doomed.waitForExit()
        // Noticed within a second on an idle machine; the bound is wide for a loaded one.
        #expect(await survivor.waitForLog("recovered dead worker", timeout: .seconds(20)), "\(survivor.log)")
        for id in held { #expect(await survivor.waitForLog("job \(id) sleep running -> completed", timeout: .seconds(60))) }
        survivor.signal(SIGTERM)
        #expect(await survivor.waitForExit()?.status == 0)
        for id in held {
            let job = try await fixture.journal.job(id)
            #expect(job.state == .completed)
            #expect(job.crashes == 1)
        }
        try await fixture.expectSound()
    }
}
