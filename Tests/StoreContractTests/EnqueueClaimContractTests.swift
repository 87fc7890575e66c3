import Foundation
import Testing
import WorkerStore
import WorkerTestKit

/// Enqueueing and claiming, on every store.
@Suite struct EnqueueClaimContractTests {
    @Test(arguments: StoreKind.allCases)
    func aUniqueKeyHoldsWhileItsJobIsUnfinished(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let first = try await fixture.store.enqueue(NewJob(handler: "noop", uniqueKey: "k"))
        let second = try await fixture.store.enqueue(NewJob(handler: "noop", payload: #"{"other": 1}"#, uniqueKey: "k"))
        #expect(first.created && !second.created && second.job.id == first.job.id)
        let batch = try await fixture.store.enqueue(batch: [NewJob(handler: "noop", uniqueKey: "k"), NewJob(handler: "noop", uniqueKey: "j")])
        #expect(batch[0] == Enqueued(id: first.job.id, created: false) && batch[1].created)
        _ = try await fixture.claim(1)
        _ = try await fixture.finish(first.job.id, .completed)
        let third = try await fixture.store.enqueue(NewJob(handler: "noop", uniqueKey: "k"))
        #expect(third.created && third.job.id != first.job.id, "a finished job frees its key")
        await fixture.close()
    }

    /// The fields the operator controls act on are kept as enqueued, single and in a batch, and come back with a claim.
    @Test(arguments: StoreKind.allCases)
    func concurrencyKeysTimeoutsAndSchedulesAreKept(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let one = try await fixture.store.enqueue(
            NewJob(handler: "noop", concurrencyKey: "customer-7", timeout: .milliseconds(1500), schedule: "nightly"))
        #expect(one.job.concurrencyKey == "customer-7" && one.job.timeout == .milliseconds(1500) && one.job.schedule == "nightly")
        let batch = try await fixture.store.enqueue(batch: [
            NewJob(handler: "noop"), NewJob(handler: "noop", concurrencyKey: "k", timeout: .nanoseconds(1)),
        ])
        let plain = try await fixture.store.job(batch[0].id)
        #expect(plain.concurrencyKey == nil && plain.timeout == nil && plain.schedule == nil)
        let rounded = try await fixture.store.job(batch[1].id)
        #expect(rounded.concurrencyKey == "k" && rounded.timeout == .milliseconds(1), "a timeout is kept in whole ms, rounded up")
        let claimed = try await fixture.claim(3)
        #expect(claimed.first { $0.id == one.job.id }?.timeout == .milliseconds(1500))
        #expect(await journalErrorCode { _ = try await fixture.store.enqueue(NewJob(handler: "noop", concurrencyKey: "")) } == .invalidArgument)
        #expect(await journalErrorCode { _ = try await fixture.store.enqueue(NewJob(handler: "noop", timeout: .seconds(0))) } == .invalidArgument)
        #expect(await journalErrorCode { _ = try await fixture.store.enqueue(NewJob(handler: "noop", timeout: .seconds(700_000))) } == .invalidArgument)
        await fixture.close()
    }

    /// Producers racing on one key, each through a store object of its own: exactly one job is created.
    @Test(arguments: StoreKind.allCases)
    func racingProducersCreateOneJobPerKey(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        var stores: [any JobStore] = []
        for _ in 0..<4 { stores.append(try await fixture.reopen()) }
        let results = try await withThrowingTaskGroup(of: [Enqueued].self) { group in
            for store in stores {
                group.addTask {
                    var mine: [Enqueued] = []
                    for round in 0..<10 {
                        mine.append(try await store.enqueue(batch: [NewJob(handler: "noop", uniqueKey: "key-\(round)")])[0])
                    }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(results.filter(\.created).count == 10)
        #expect(Set(results.map(\.id)).count == 10)
        #expect(try await fixture.store.stats()[.queued] == 10)
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func badPayloadsAreRefusedAndNothingOfTheBatchIsKept(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        #expect(await journalErrorCode { _ = try await fixture.store.enqueue(NewJob(handler: "noop", payload: "{not json")) } == .invalidPayload)
        do {
            _ = try await fixture.store.enqueue(batch: [NewJob(handler: "noop"), NewJob(handler: "noop", payload: "[1,")])
            Issue.record("a batch with a bad payload was accepted")
        } catch let error as JournalError {
            #expect(error.code == .invalidPayload && error.batchIndex == 1)
        }
        let huge = "\"" + String(repeating: "x", count: (1 << 20) + 10) + "\""
        #expect(await journalErrorCode { _ = try await fixture.store.enqueue(NewJob(handler: "noop", payload: huge)) } == .payloadTooLarge)
        #expect(await journalErrorCode { _ = try await fixture.store.enqueue(NewJob(handler: "")) } == .invalidArgument)
        #expect(try await fixture.store.stats().values.reduce(0, +) == 0)
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func aBatchIsEnqueuedInOrder(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let jobs = (0..<2_500).map { NewJob(handler: "noop", payload: #"{"n": \#($0)}"#) }
        let enqueued = try await fixture.store.enqueue(batch: jobs)
        #expect(enqueued.count == 2_500 && enqueued.allSatisfy(\.created))
        #expect(enqueued.map(\.id) == enqueued.map(\.id).sorted() && Set(enqueued.map(\.id)).count == 2_500)
        #expect(try await fixture.store.job(enqueued[1234].id).payload == #"{"n": 1234}"#)
        #expect(try await fixture.store.events(job: enqueued[0].id).map(\.to) == [.queued])
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func claimOrderIsInterruptedThenPriorityThenRunAtThenId(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let interrupted = try await fixture.job(in: .interrupted)
        let low = try await fixture.enqueue(priority: 0)
        let high = try await fixture.enqueue(priority: 5)
        let lowAgain = try await fixture.enqueue(priority: 0)
        let later = try await fixture.enqueue(runAt: WallClock.system.now() + 3_600_000_000)
        let claimed = try await fixture.claim(10).map(\.id)
        #expect(claimed == [interrupted, high, low, lowAgain])
        #expect(try await fixture.store.job(later).state == .scheduled)
        let resumed = try await fixture.store.events(job: interrupted).last
        #expect(resumed?.reason == "resumed" && resumed?.to == .running && resumed?.workerID == fixture.worker)
        #expect(try await fixture.store.nextRunAt() != nil)
        await fixture.close()
    }

    /// A round that asked for jobs and claimed none says when the next one falls due, read with the claim's own
    /// clock reading: a job falling due between a claim and a look-up made after it is never missed.
    @Test(arguments: StoreKind.allCases)
    func aRoundThatClaimsNothingSaysWhenTheNextJobFallsDue(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let later = try await fixture.enqueue(runAt: WallClock.system.now() + 3_600_000_000)
        let empty = try await fixture.store.finishAndClaim(finished: [], claim: ClaimRequest(worker: fixture.worker, limit: 2))
        #expect(empty.claimed.isEmpty)
        #expect(empty.nextRunAt == (try await fixture.store.job(later).runAt))
        let ready = try await fixture.enqueue()
        let full = try await fixture.store.finishAndClaim(finished: [], claim: ClaimRequest(worker: fixture.worker, limit: 2))
        #expect(full.claimed.map(\.id) == [ready] && full.nextRunAt == nil)  // it claimed: nothing to wait for
        let none = try await fixture.store.finishAndClaim(finished: [], claim: ClaimRequest(worker: fixture.worker, limit: 0))
        #expect(none.nextRunAt == nil)  // asked for none
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func claimsKeepToTheirQueuesAndHandlers(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let mail = try await fixture.enqueue("mail", queue: "mail")
        let report = try await fixture.enqueue("report", queue: "reports")
        let other = try await fixture.enqueue("other", queue: "mail")
        #expect(try await fixture.claim(10, queues: ["reports"]).map(\.id) == [report])
        #expect(try await fixture.claim(10, queues: ["mail"], handlers: ["mail"]).map(\.id) == [mail])
        #expect(try await fixture.claim(10, handlers: []).isEmpty)
        #expect(try await fixture.store.job(other).state == .queued)
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func anUnregisteredWorkerCannotClaim(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        _ = try await fixture.enqueue()
        #expect(await journalErrorCode { _ = try await fixture.claim(1, worker: "ghost") } == .workerNotRegistered)
        #expect(try await fixture.store.stats()[.queued] == 1)
        await fixture.close()
    }

    /// Workers claiming at once, each through a store object of its own: every job is claimed exactly once.
    @Test(arguments: StoreKind.allCases)
    func concurrentClaimersNeverShareAJob(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        _ = try await fixture.store.enqueue(batch: (0..<400).map { _ in NewJob(handler: "noop") })
        var stores: [(String, any JobStore)] = []
        for index in 0..<4 {
            let store = try await fixture.reopen()
            try await fixture.register("c\(index)", on: store)
            stores.append(("c\(index)", store))
        }
        let claims = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for (worker, store) in stores {
                group.addTask {
                    var mine: [Int64] = []
                    var finished: [(job: Int64, outcome: JobOutcome)] = []
                    while true {
                        let round = try await store.finishAndClaim(
                            finished: finished, claim: ClaimRequest(worker: worker, limit: 7))
                        #expect(round.finished.allSatisfy { (try? $0.get()) == .completed })
                        if round.claimed.isEmpty && finished.isEmpty { return mine }
                        mine += round.claimed.map(\.id)
                        finished = round.claimed.map { (job: $0.id, outcome: JobOutcome.completed) }
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let all = claims.flatMap { $0 }
        #expect(all.count == 400 && Set(all).count == 400)
        #expect(try await fixture.store.stats()[.completed] == 400)
        #expect(try await fixture.store.verify().isSound)
        await fixture.close()
    }
}
