import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// Bad things done to the journal under a running worker.
@Suite struct LiveBadInputTests {
    @Test func aDatabaseDeletedUnderARunningWorkerStopsItWithExit74() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let job = try await fixture.enqueue("sleep", #"{"ms": 60000}"#)
        let worker = try await fixture.start()
        #expect(await worker.waitForLog("job \(job) sleep started"))
        #expect(unlink(fixture.db) == 0)  // SQLite goes on writing to the deleted file: only a check can tell
        let exit = await worker.waitForExit(timeout: .seconds(30))
        #expect(exit?.status == 74, "\(worker.log)")
        #expect(worker.log.contains("worker: error: the database file \(fixture.db) was deleted while this process had it open"), "\(worker.log)")
    }

    @Test func aDatabaseReplacedUnderARunningWorkerStopsItWithExit74AndTheNewFileIsUntouched() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let job = try await fixture.enqueue("sleep", #"{"ms": 60000}"#)
        let worker = try await fixture.start()
        #expect(await worker.waitForLog("job \(job) sleep started"))
        let other = fixture.directory.file("other.sqlite3")
        let replacement = try Journal(path: other)
        _ = try await replacement.enqueue(NewJob(handler: "noop", payload: "{}"))
        #expect(rename(other, fixture.db) == 0)
        let exit = await worker.waitForExit(timeout: .seconds(30))
        #expect(exit?.status == 74, "\(worker.log)")
        #expect(worker.log.contains("was replaced by another file while this process had it open"), "\(worker.log)")
        // The worker wrote nothing into the file that took the old one's place.
        let now = try Journal(path: fixture.db)
        #expect(try await now.stats()[.queued] == 1)
        #expect(try await now.liveWorkers().isEmpty)
    }
}
