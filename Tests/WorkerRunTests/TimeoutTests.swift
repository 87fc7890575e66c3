import Foundation
import Testing
import WorkerStore
import WorkerTestKit

/// Timeouts (`worker enqueue --timeout`): an attempt still running at its timeout is cancelled, gets the drain's
/// grace to checkpoint and return, and fails `timed out`; the attempt counts, so the job retries with backoff or
/// ends dead. A handler that ignores the cancel is given up on once the grace ends.
@Suite struct TimeoutTests {
    @Test(arguments: StoreKind.allCases)
    func aTimeoutEndsAHungSleepAndAHangAndTheAttemptCounts(kind: StoreKind) async throws {
        let fixture = try await RunFixture.make(kind)
        defer { fixture.remove() }
        // Through the command line: the flag reaches the job.
        let enqueued = try await runProcess(
            ProductBinary.path("worker"),
            ["enqueue", "sleep", "--db", fixture.db, "--payload", #"{"ms": 60000}"#, "--timeout", "1", "--max-attempts", "1"])
        #expect(enqueued.status == 0, "\(enqueued.stderr)")
        let sleeper = try #require(Int64(enqueued.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try await fixture.journal.job(sleeper).timeout == .seconds(1))
        let hang = try await fixture.journal.enqueue(
            NewJob(handler: "hang", payload: #"{"ms": 8000}"#, maxAttempts: 1, timeout: .milliseconds(500))).job.id
        let retried = try await fixture.journal.enqueue(
            NewJob(handler: "sleep", payload: #"{"ms": 60000}"#, maxAttempts: 5, timeout: .milliseconds(300))).job.id
        let quick = try await fixture.journal.enqueue(NewJob(handler: "sleep", payload: #"{"ms": 50}"#, timeout: .seconds(30))).job.id
        // A queue's default applies to its jobs enqueued without a timeout, read when they are claimed.
        let byQueue = try await fixture.journal.enqueue(NewJob(handler: "sleep", payload: #"{"ms": 60000}"#, queue: "slow", maxAttempts: 1)).job.id
        let set = try await runProcess(ProductBinary.path("worker"), ["queue", "set", "slow", "--timeout", "0.4", "--db", fixture.db])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(try await fixture.journal.job(byQueue).effectiveTimeout == .milliseconds(400))

        let worker = try await fixture.start(["--concurrency", "4"])
        let settled = try await eventually(timeout: .seconds(90)) {
            let states = try await [sleeper, hang, quick, byQueue].asyncMap { try await fixture.journal.job($0).state }
            let retriedEvents = try await fixture.journal.events(job: retried)
            return states == [.dead, .dead, .completed, .dead] && retriedEvents.contains { $0.to == .retrying }
        }
        worker.signal(SIGTERM)
        let exit = await worker.waitForExit(timeout: .seconds(30))
        #expect(settled, "\(worker.log.split(separator: "\n").suffix(8).joined(separator: " | "))")
        #expect(exit?.status == 0)

        let slept = try await fixture.journal.job(sleeper)
        #expect(slept.attempts == 1 && slept.lastError == "timed out after 1s", "\(slept)")
        #expect(slept.checkpoint != nil, "the cancelled sleep checkpointed in its grace")
        let hung = try await fixture.journal.job(hang)
        #expect(hung.attempts == 1 && hung.lastError?.hasPrefix("timed out after 500ms; the handler did not stop") == true, "\(hung)")
        let events = try await fixture.journal.events(job: retried)
        let retry = try #require(events.first { $0.to == .retrying })
        #expect(retry.reason.contains("timed out after 300ms") && retry.attempt == 1, "\(retry)")
        #expect(worker.log.contains("job \(hang) hang: did not stop within"))
        #expect(try await fixture.journal.job(byQueue).lastError == "timed out after 400ms")
        try await fixture.expectSound()
    }
}

extension Array {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
