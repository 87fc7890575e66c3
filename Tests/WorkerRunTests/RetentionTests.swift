import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

@Suite struct RetentionTests {
    @Test func runPrunesOldCompletedJobsAtStartAndKeepsTheRest() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let old = [try await fixture.enqueue("noop"), try await fixture.enqueue("noop")]
        try await fixture.runUntilIdle()
        try await Task.sleep(for: .seconds(2))
        let fresh = try await fixture.enqueue("noop")
        let waiting = try await fixture.enqueue("sleep", #"{"ms": 60000}"#)
        let worker = try await fixture.start(["--prune-completed-older-than", "2s"])
        #expect(await worker.waitForLog("pruned 2 completed job(s) older than 2s"), "\(worker.log)")
        #expect(await worker.waitForLog("job \(waiting) sleep started"))
        worker.signal(SIGTERM)
        worker.signal(SIGTERM)
        #expect((await worker.waitForExit())?.status == 0)
        for id in old {
            await #expect(throws: JournalError.self) { try await fixture.journal.job(id) }
        }
        #expect(try await fixture.journal.job(fresh).state == .completed)  // finished just now: kept
        #expect(try await fixture.journal.job(waiting).state == .interrupted)
        try await fixture.expectSound()
    }
}
