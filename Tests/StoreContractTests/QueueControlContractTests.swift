import Foundation
import Testing
import WorkerStore
import WorkerTestKit

/// Paused queues and limits, honoured by claims, on every store.
@Suite struct QueueControlContractTests {
    /// A paused queue gives no job to a claim, not even an interrupted one; other queues are served; resumed, it is.
    @Test(arguments: StoreKind.allCases)
    func aPausedQueueHoldsEvenItsInterruptedJobs(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let interrupted = try await fixture.enqueue(queue: "mail")
        #expect(try await fixture.claim(1).map(\.id) == [interrupted])
        _ = try await fixture.finish(interrupted, .interrupted(reason: "drain"))
        let queued = try await fixture.enqueue(queue: "mail")
        let other = try await fixture.enqueue(queue: "other")
        let paused = try await fixture.store.pause(queue: "mail")
        #expect(paused.pausedAt != nil)
        #expect(try await fixture.store.pause(queue: "mail") == paused, "pausing a paused queue changes nothing")
        #expect(try await fixture.claim(10).map(\.id) == [other])
        #expect(try await fixture.claim(10).isEmpty)
        #expect(try await fixture.store.job(interrupted).state == .interrupted)
        #expect(try await fixture.store.job(queued).state == .queued)
        let listed = try await fixture.store.queues()
        #expect(listed.map(\.settings.name) == ["mail", "other"])
        #expect(listed[0].settings.pausedAt != nil && listed[0].waiting == 1 && listed[0].interrupted == 1 && listed[1].running == 1)
        #expect(try await fixture.store.resume(queue: "mail").pausedAt == nil)
        #expect(try await fixture.claim(10).map(\.id) == [interrupted, queued])
        await fixture.close()
    }

    /// Concurrency 2: two store objects (two workers, as two processes) never hold more than 2 of the queue's jobs;
    /// other queues are served meanwhile; a finished job frees a slot.
    @Test(arguments: StoreKind.allCases)
    func concurrencyHoldsAcrossWorkers(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let other = try await fixture.reopen()
        try await fixture.register("w2", on: other)
        _ = try await fixture.store.set(queue: "api", QueueChange(concurrency: 2))
        var api: [Int64] = []
        for _ in 0..<5 { api.append(try await fixture.enqueue(queue: "api")) }
        let plain = try await fixture.enqueue(queue: "default")
        let first = try await fixture.claim(10)
        #expect(first.map(\.id) == [api[0], api[1], plain], "in claim order, the limit's extra jobs passed over only for other queues")
        #expect(try await fixture.claim(10, worker: "w2", on: other).isEmpty)
        _ = try await fixture.finish(api[0], .completed)
        #expect(try await fixture.claim(10, worker: "w2", on: other).map(\.id) == [api[2]])
        #expect(try await fixture.store.job(api[3]).state == .queued)
        _ = try await fixture.store.set(queue: "api", QueueChange(concurrency: .some(nil)))
        #expect(try await fixture.claim(10, worker: "w2", on: other).map(\.id) == [api[3], api[4]], "cleared, the limit holds nothing back")
        await fixture.close()
    }

    /// Workers claiming at once through store objects of their own never take more than the limit together.
    @Test(arguments: StoreKind.allCases)
    func racingClaimsNeverExceedTheLimit(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        _ = try await fixture.store.set(queue: "api", QueueChange(concurrency: 3))
        for _ in 0..<30 { _ = try await fixture.enqueue(queue: "api") }
        var stores: [(String, any JobStore)] = []
        for index in 0..<4 {
            let store = try await fixture.reopen()
            try await fixture.register("r\(index)", on: store)
            stores.append(("r\(index)", store))
        }
        let claimed = try await withThrowingTaskGroup(of: Int.self) { group in
            for (worker, store) in stores {
                group.addTask {
                    var count = 0
                    for _ in 0..<5 { count += try await fixture.claim(10, worker: worker, on: store).count }
                    return count
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(claimed == 3)
        #expect(try await fixture.store.stats()[.running] == 3)
        await fixture.close()
    }

    /// A rate of 3 per hour: three starts, then none, and an idle worker is told when the window frees a slot.
    @Test(arguments: StoreKind.allCases)
    func aRateLimitCountsStartsInItsWindow(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        _ = try await fixture.store.set(queue: "sms", QueueChange(rate: QueueRate(limit: 3, window: .seconds(3600))))
        for _ in 0..<5 { _ = try await fixture.enqueue(queue: "sms") }
        let started = try await fixture.claim(10)
        #expect(started.count == 3)
        for job in started { _ = try await fixture.finish(job.id, .completed) }
        let round = try await fixture.store.finishAndClaim(finished: [], claim: ClaimRequest(worker: fixture.worker, limit: 10))
        #expect(round.claimed.isEmpty)
        let freed = try #require(round.nextRunAt)
        let firstStart = try await fixture.store.events(job: started[0].id).first { $0.to == .running }!.at
        #expect(freed == firstStart + 3_600_000_000, "the window frees a slot an hour after the first start")
        #expect(try await fixture.store.stats()[.queued] == 2)
        await fixture.close()
    }

    /// Per-key concurrency 1: one running job per key; a job held back by its key does not hold back the queue's
    /// other keys, nor jobs without a key.
    @Test(arguments: StoreKind.allCases)
    func perKeyConcurrencyHoldsOnlyThatKey(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        _ = try await fixture.store.set(queue: "q", QueueChange(perKeyConcurrency: 1))
        var ids: [Int64] = []
        for key in ["a", "a", "b", nil, nil] as [String?] {
            ids.append(try await fixture.store.enqueue(NewJob(handler: "noop", queue: "q", concurrencyKey: key)).job.id)
        }
        #expect(try await fixture.claim(10).map(\.id) == [ids[0], ids[2], ids[3], ids[4]])
        #expect(try await fixture.claim(10).isEmpty)
        _ = try await fixture.finish(ids[0], .completed)
        #expect(try await fixture.claim(10).map(\.id) == [ids[1]])
        await fixture.close()
    }

    /// Settings are set and cleared field by field; bad values are refused and change nothing.
    @Test(arguments: StoreKind.allCases)
    func settingsAreSetAndClearedFieldByField(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let set = try await fixture.store.set(
            queue: "q", QueueChange(concurrency: 4, rate: QueueRate(limit: 20, window: .seconds(1)), perKeyConcurrency: 2, timeout: .seconds(30)))
        #expect(set.concurrency == 4 && set.rate == QueueRate(limit: 20, window: .seconds(1)) && set.perKeyConcurrency == 2 && set.timeout == .seconds(30))
        #expect(set.limitsDescription == "concurrency=4 rate=20/1 per-key-concurrency=2 timeout=30")
        let cleared = try await fixture.store.set(queue: "q", QueueChange(rate: .some(nil)))
        #expect(cleared.rate == nil && cleared.concurrency == 4 && cleared.timeout == .seconds(30))
        #expect(await journalErrorCode { _ = try await fixture.store.set(queue: "q", QueueChange(concurrency: 0)) } == .invalidArgument)
        #expect(await journalErrorCode { _ = try await fixture.store.set(queue: "q", QueueChange()) } == .invalidArgument)
        #expect(await journalErrorCode { _ = try await fixture.store.pause(queue: "bad name") } == .invalidArgument)
        let listed = try await fixture.store.queues()
        #expect(listed.count == 1 && listed[0].settings == cleared, "a queue with settings and no jobs is listed")
        await fixture.close()
    }
}
