import Foundation
@testable import PostgresJournal
import PostgresNIO
import Synchronization
import Testing
import WorkerStore
import WorkerTestKit

/// Wake-ups on PostgreSQL: the lock session LISTENs on `worker_jobs`, so an enqueue's NOTIFY from any process wakes
/// an idle worker, and changes `dataVersion`.
@Suite struct WatchTests {
    @Test func aNotifyFromAnEnqueueFiresTheArmedWatch() async throws {
        let fixture = try await RunFixture("watch")
        let idle = try await fixture.open()
        let woken = Atomic<Int>(0)
        let watch = try #require(idle.commitWatch { woken.add(1, ordering: .relaxed) })
        #expect(!watch.arm())  // nothing listens before a worker registers
        try await idle.register(WorkerRegistration(id: "w1", pid: 1, host: "t", processStartedAt: nil, version: "t"))
        #expect(watch.arm())
        let before = try await idle.dataVersion()
        let producer = try await fixture.open()
        try await fixture.enqueue(producer, notify: true)
        try await fixture.eventually("the watch fires") {
            if woken.load(ordering: .relaxed) > 0 { return true }
            // Register returns once the server listens, or after 5 s: on a box this loaded, notify again.
            _ = try await producer.rows("SELECT 1 FROM (SELECT pg_notify('worker_jobs', 'default')) AS n")
            return false
        }
        #expect(watch.takeFired())
        #expect(!watch.takeFired())
        #expect(try await idle.dataVersion() != before)
        watch.disarm()
        await closeAll(idle, producer)
    }

    @Test func theLossOfTheSessionWakesTheIdleWorker() async throws {
        let fixture = try await RunFixture("watchloss")
        let idle = try await fixture.worker("w1")
        let woken = Atomic<Int>(0)
        let watch = try #require(idle.commitWatch { woken.add(1, ordering: .relaxed) })
        #expect(watch.arm())
        try await fixture.kill("w1")
        try await fixture.eventually("the watch fires") { woken.load(ordering: .relaxed) > 0 }
        #expect(await idle.storageProblem() != nil)
        #expect(!watch.arm())  // nothing listens any more: the caller polls
        await closeAll(idle)
    }
}
