import WorkerTestKit
import Foundation
import GRDB
import Journal
import WorkerStore
import Testing

@Suite struct EnqueueTests {
    @Test func aJobStartsQueuedWithItsFieldsAndDefaults() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let (job, created) = try await fixture.journal.enqueue(NewJob(handler: "sleep", payload: #"{"ms": 5}"#, priority: 3))
        #expect(created)
        #expect(job.state == .queued)
        #expect(job.payload == #"{"ms": 5}"#)
        #expect(job.queue == "default")
        #expect(job.priority == 3)
        #expect(job.attempts == 0)
        #expect(job.maxAttempts == 25)
        #expect(job.runAt == fixture.clock.now)
    }

    @Test func aFutureStartIsScheduledAndBecomesQueuedWhenDue() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue(runAt: fixture.clock.now + 5_000_000)
        #expect(try await fixture.journal.job(id).state == .scheduled)
        #expect(try await fixture.claim().isEmpty)
        fixture.clock.advance(seconds: 5)
        #expect(try await fixture.claim() == [id])
        let events = try await fixture.journal.events(job: id)
        #expect(events.map(\.to) == [.scheduled, .queued, .running])
    }

    @Test func theSameKeyReturnsTheUnfinishedJobUntilItFinishes() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let first = try await fixture.journal.enqueue(NewJob(handler: "noop", uniqueKey: "report-42"))
        let again = try await fixture.journal.enqueue(NewJob(handler: "noop", payload: #"{"other":1}"#, uniqueKey: "report-42"))
        #expect(first.created)
        #expect(!again.created)
        #expect(again.job.id == first.job.id)
        #expect(again.job.payload == "{}")
        #expect(try await fixture.journal.stats()[.queued] == 1)
        // A running job still holds the key; a completed one frees it.
        _ = try await fixture.claim()
        #expect(try await fixture.journal.enqueue(NewJob(handler: "noop", uniqueKey: "report-42")).created == false)
        _ = try await fixture.journal.finish(job: first.job.id, worker: fixture.worker, outcome: .completed)
        let fresh = try await fixture.journal.enqueue(NewJob(handler: "noop", uniqueKey: "report-42"))
        #expect(fresh.created)
        #expect(fresh.job.id != first.job.id)
    }

    @Test func retryingAFinishedJobWhoseKeyIsTakenIsRefused() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let old = try await fixture.enqueue(key: "k")
        _ = try await fixture.journal.cancel(job: old)
        let new = try await fixture.enqueue(key: "k")
        #expect(new != old)
        #expect(await journalErrorCode { _ = try await fixture.journal.retry(job: old) } == .uniqueKeyConflict)
        #expect(try await fixture.journal.job(old).state == .cancelled)
    }

    @Test func duplicateKeysInsideOneBatchCollapseToOneJob() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let results = try await fixture.journal.enqueue(batch: [
            NewJob(handler: "noop", uniqueKey: "a"), NewJob(handler: "noop", uniqueKey: "a"), NewJob(handler: "noop"),
        ])
        #expect(results.map(\.created) == [true, false, true])
        #expect(results[0].id == results[1].id)
        #expect(try await fixture.journal.events(job: results[0].id).count == 1)
        #expect(try await fixture.journal.verify().isSound)
    }

    @Test func aBatchWithOneBadPayloadWritesNothing() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        _ = try await fixture.enqueue()
        var batch = (0..<500).map { NewJob(handler: "noop", payload: #"{"n":\#($0)}"#) }
        batch[321].payload = #"{"n": oops}"#
        do {
            _ = try await fixture.journal.enqueue(batch: batch)
            Issue.record("a bad payload was accepted")
        } catch let error as JournalError {
            #expect(error.code == .invalidPayload)
            #expect(error.batchIndex == 321)
        }
        #expect(try await fixture.journal.stats()[.queued] == 1)
        #expect(try await fixture.journal.verify().eventsChecked == 1)
    }

    @Test(arguments: refusedEnqueueInput)
    func badInputIsRefusedWithItsCode(handler: String, payload: String, code: JournalError.Code) async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        #expect(await journalErrorCode { _ = try await fixture.journal.enqueue(NewJob(handler: handler, payload: payload)) } == code)
        #expect(try await fixture.journal.stats().values.reduce(0, +) == 0)
    }

    @Test func anyJSONValueIsAPayload() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        for payload in ["null", "42", #""text""#, "[1,2]", #"{"a":{"b":[true,false,null]}}"#] {
            #expect(try await fixture.journal.enqueue(NewJob(handler: "noop", payload: payload)).job.payload == payload)
        }
    }

    @Test func payloadsOverTheLimitAreRefused() async throws {
        let fixture = try await Fixture { $0.maxPayloadBytes = 100 }
        defer { fixture.remove() }
        let fits = "\"" + String(repeating: "x", count: 98) + "\""
        #expect(try await fixture.journal.enqueue(NewJob(handler: "noop", payload: fits)).created)
        let code = await journalErrorCode { _ = try await fixture.journal.enqueue(NewJob(handler: "noop", payload: fits + " ")) }
        #expect(code == .payloadTooLarge)
    }

    @Test func nestingDeeperThan1000LevelsIsRefusedAsSuchWhateverTheStringsHold() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let brackets = "\"" + String(repeating: "[{\\\"", count: 2000) + "\""  // brackets and escaped quotes in a string
        let deepest = String(repeating: "[", count: 1000) + brackets + String(repeating: "]", count: 1000)
        #expect(try await fixture.journal.enqueue(NewJob(handler: "noop", payload: deepest)).created)
        let tooDeep = "[" + deepest + "]"
        do {
            _ = try await fixture.journal.enqueue(NewJob(handler: "noop", payload: tooDeep))
            Issue.record("a payload nested 1001 levels deep was accepted")
        } catch let error as JournalError {
            #expect(error.code == .invalidPayload)
            #expect(error.description == "payload is nested deeper than 1000 levels: flatten it, or store it elsewhere and pass a reference")
        }
        // Alone, a job is not "job 1 of the batch"; in a batch, the error says which job.
        do {
            _ = try await fixture.journal.enqueue(batch: [NewJob(handler: "noop"), NewJob(handler: "noop", payload: tooDeep)])
            Issue.record("a payload nested 1001 levels deep was accepted")
        } catch let error as JournalError {
            #expect(error.batchIndex == 1)
        }
        #expect(try await fixture.journal.stats()[.queued] == 1)
    }

    @Test func maxAttemptsBelowOneIsRefused() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        #expect(await journalErrorCode { _ = try await fixture.enqueue(maxAttempts: 0) } == .invalidArgument)
    }
}
