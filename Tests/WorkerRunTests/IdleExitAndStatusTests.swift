import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// `--exit-when-idle` with jobs the worker cannot run, and the lines a worker logs about itself (issue 12,
/// items 5 and 8).
@Suite struct IdleExitAndStatusTests {
    @Test func jobsForAHandlerNoPluginProvidesEndAnIdleWorkerWith78NamingThem() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let done = try await fixture.enqueue("noop")
        let typos = [try await fixture.enqueue("noopp"), try await fixture.enqueue("noopp")]
        let worker = try await fixture.start(["--exit-when-idle"])
        let exit = await worker.waitForExit(timeout: .seconds(60))
        #expect(exit?.status == 78, "\(worker.log)")
        #expect(worker.log.contains("worker: error: nothing left to run, but 2 job(s) wait for handlers no loaded plugin provides: 'noopp' (2)"), "\(worker.log)")
        #expect(try await fixture.journal.job(done).state == .completed)
        for id in typos { #expect(try await fixture.journal.job(id).state == .queued) }
        try await fixture.expectSound()
    }

    @Test func jobsOfOtherQueuesDoNotKeepAnIdleWorkerAlive() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let mine = try await fixture.enqueue("noop")
        let other = try await fixture.journal.enqueue(NewJob(handler: "noop", payload: "{}", queue: "reports")).job.id
        try await fixture.runUntilIdle(["--queue", "default"])
        #expect(try await fixture.journal.job(mine).state == .completed)
        #expect(try await fixture.journal.job(other).state == .queued)
    }

    @Test func theStatusAndExitLinesSayWhatRunsAndWhatEachJobBecame() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let quick = try await fixture.enqueue("noop")
        let slow = try await fixture.enqueue("sleep", #"{"ms": 60000}"#)
        let worker = try await fixture.start(["--drain-timeout", "0.5"])
        #expect(await worker.waitForLog("job \(slow) sleep started"), "\(worker.log)")
        #expect(await worker.waitForLog("job \(quick) noop running -> completed"), "\(worker.log)")
        worker.signal(SIGUSR1)
        #expect(await worker.waitForLog("status: running, 1 of "), "\(worker.log)")
        let status = try #require(worker.log.split(separator: "\n").first { $0.contains("status: running, 1 of ") })
        #expect(status.contains("running [\(slow) sleep "), "\(status)")
        #expect(status.contains("0 claimed ahead; 2 claimed, 1 completed in "), "\(status)")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit()?.status == 0, "\(worker.log)")
        let stopped = try #require(worker.log.split(separator: "\n").first { $0.contains("stopped: ") })
        #expect(stopped.contains("stopped: 2 claimed, 1 completed, 1 interrupted in "), "\(stopped)")
        #expect(!stopped.contains("status:"), "\(stopped)")
    }
}
