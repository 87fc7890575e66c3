import Foundation
@testable import PostgresJournal
import Testing
import WorkerStore
import WorkerTestKit

/// Checkpoints and steps on PostgreSQL, fenced as on SQLite; called from a thread of their own, as plugins do.
@Suite struct CheckpointStepTests {
    @Test func theLastCheckpointIsKeptAndHandedBackOnResume() async throws {
        let fixture = try await RunFixture("checkpoint")
        let j = try await fixture.worker("w1")
        let id = try await fixture.enqueue(j, "sleep")
        _ = try await fixture.claim(j, "w1")
        try await blocking { try j.checkpointBlocking(job: id, worker: "w1", data: Data(#"{"elapsed":100}"#.utf8)) }
        try await blocking { try j.checkpointBlocking(job: id, worker: "w1", data: Data(#"{"elapsed":200}"#.utf8)) }
        #expect(try await fixture.finish(j, id, "w1", .interrupted(reason: "deadline")) == .interrupted)
        let resumed = try await j.finishAndClaim(finished: [], claim: ClaimRequest(worker: "w1", limit: 1)).claimed
        #expect(resumed.map(\.id) == [id])
        #expect(resumed.first?.checkpoint == Data(#"{"elapsed":200}"#.utf8))
        #expect(resumed.first?.attempts == 1)
        await closeAll(j)
    }

    @Test func aCompletedStepIsAnsweredFromTheJournalOnTheNextAttempt() async throws {
        let fixture = try await RunFixture("steps")
        let a = try await fixture.worker("w1")
        let id = try await fixture.enqueue(a, "append")
        _ = try await fixture.claim(a, "w1")
        #expect(try await blocking { try a.beginStepBlocking(job: id, worker: "w1", name: "line-1") } == nil)
        try await blocking { try a.commitStepBlocking(job: id, worker: "w1", name: "line-1", result: Data("ok-1".utf8)) }
        #expect(try await blocking { try a.beginStepBlocking(job: id, worker: "w1", name: "line-2") } == nil)
        // The worker dies inside line-2; a peer recovers the job and claims it.
        let b = try await fixture.worker("w2")
        try await fixture.kill("w1")
        _ = try await fixture.recoverOnce(b, by: "w2", "w1")
        #expect(try await fixture.claim(b, "w2") == [id])
        let one = try await blocking { try b.beginStepBlocking(job: id, worker: "w2", name: "line-1") }
        #expect(one?.result == Data("ok-1".utf8) && one?.completedAt != nil)
        #expect(try await blocking { try b.beginStepBlocking(job: id, worker: "w2", name: "line-2") } == nil)
        #expect(try await fixture.sql("SELECT string_agg(name || ':' || attempt || ':' || (completed_at IS NOT NULL), ',' ORDER BY name) FROM job_steps")
                == "line-1:1:true,line-2:2:false")
        let code = await journalErrorCode {
            try await blocking { try b.commitStepBlocking(job: id, worker: "w2", name: "line-1", result: Data()) }
        }
        #expect(code == .illegalTransition)
        #expect(await journalErrorCode { _ = try await blocking { try b.beginStepBlocking(job: id, worker: "w2", name: "") } } == .invalidArgument)
        await closeAll(a, b)
    }

    @Test func aWorkerThatLostItsJobCannotWriteToIt() async throws {
        let fixture = try await RunFixture("lost")
        let a = try await fixture.worker("w1")
        let b = try await fixture.worker("w9")
        let id = try await fixture.enqueue(a)
        _ = try await fixture.claim(a, "w1")
        try await fixture.kill("w1")
        _ = try await fixture.recoverOnce(b, by: "w9", "w1")
        for write in [
            { try await blocking { try a.checkpointBlocking(job: id, worker: "w1", data: Data("x".utf8)) } },
            { _ = try await blocking { try a.beginStepBlocking(job: id, worker: "w1", name: "s") } },
            { try await blocking { try a.failStepBlocking(job: id, worker: "w1", name: "s", error: "e") } },
            { try await fixture.finish(a, id, "w1", .completed) },
        ] as [@Sendable () async throws -> Void] {
            #expect(await journalErrorCode(write) == .notHeld)
        }
        #expect(try await fixture.job(b, id).state == .interrupted)
        #expect(try await fixture.sql("SELECT count(*) FROM job_checkpoints") == "0")
        await closeAll(a, b)
    }

    @Test func aFailedStepKeepsItsErrorUntilItCompletes() async throws {
        let fixture = try await RunFixture("stepfail")
        let j = try await fixture.worker("w1")
        let id = try await fixture.enqueue(j)
        _ = try await fixture.claim(j, "w1")
        #expect(await journalErrorCode { try await blocking { try j.failStepBlocking(job: id, worker: "w1", name: "s", error: "e") } } == .invalidArgument)
        _ = try await blocking { try j.beginStepBlocking(job: id, worker: "w1", name: "s") }
        let long = String(repeating: "x", count: 10_000)
        try await blocking { try j.failStepBlocking(job: id, worker: "w1", name: "s", error: long) }
        #expect(try await fixture.sql("SELECT failed_attempt, error = '\(boundedText(long, limit: StepRecord.errorLimit))', completed_at IS NULL FROM job_steps")
                == "1|t|t")
        try await blocking { try j.commitStepBlocking(job: id, worker: "w1", name: "s", result: Data("r".utf8)) }
        #expect(try await fixture.sql("SELECT failed_at IS NULL AND error IS NULL FROM job_steps") == "t")
        #expect(await journalErrorCode { try await blocking { try j.failStepBlocking(job: id, worker: "w1", name: "s", error: "e") } } == .illegalTransition)
        await closeAll(j)
    }

    @Test func aFailedStepIsRunAgainByTheNextAttemptAndAnEarlierAttemptsStepCannotFail() async throws {
        let fixture = try await RunFixture("stepretry")
        let j = try await fixture.worker("w1")
        let id = try await fixture.enqueue(j, "append")
        _ = try await fixture.claim(j, "w1")
        #expect(try await blocking { try j.beginStepBlocking(job: id, worker: "w1", name: "charge") } == nil)
        #expect(try await blocking { try j.beginStepBlocking(job: id, worker: "w1", name: "old") } == nil)
        try await blocking { try j.failStepBlocking(job: id, worker: "w1", name: "charge", error: "card declined") }
        try await fixture.finish(j, id, "w1", .failed(error: "card declined"))
        _ = try await fixture.sql("UPDATE jobs SET run_at = run_at - 5000000 WHERE id = \(id)")
        #expect(try await fixture.claim(j, "w1") == [id])
        #expect(try await blocking { try j.beginStepBlocking(job: id, worker: "w1", name: "charge") } == nil)
        // Until the second attempt ends, the first one's failure stays, marked as an earlier one.
        #expect(try await fixture.sql("SELECT attempt, failed_at IS NULL, failed_attempt, error FROM job_steps WHERE name = 'charge'")
                == "2|t|1|card declined")
        let earlier = await journalErrorCode {
            try await blocking { try j.failStepBlocking(job: id, worker: "w1", name: "old", error: "x") }
        }
        #expect(earlier == .invalidArgument)  // begun by attempt 1, not by this one
        try await blocking { try j.commitStepBlocking(job: id, worker: "w1", name: "charge", result: Data("1".utf8)) }
        #expect(try await fixture.sql("SELECT completed_at IS NOT NULL, failed_attempt IS NULL, error IS NULL FROM job_steps WHERE name = 'charge'")
                == "t|t|t")
        await closeAll(j)
    }
}
