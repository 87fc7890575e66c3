import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// Issue 11, the plugin items that happen while jobs run: against the real binary.
@Suite struct PluginMisbehaviourTests {
    // MARK: Item 8: completing a job twice

    @Test(arguments: [["COMPLETE_TWICE"], ["COMPLETE_RACING"]])
    func aPluginThatCompletesTwiceCannotCrashTheWorkerAndTheFirstCompletionCounts(defines: [String]) async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let plugin = try await fixtures.cPlugin("twice.so", defines: defines)
        let output = fixture.directory.file("steps")
        var jobs: [Int64] = []
        for _ in 0..<20 { jobs.append(try await fixture.enqueue("c-steps", "\"\(output)\"")) }
        let worker = try await fixture.start(["--plugin", plugin, "--exit-when-idle", "--concurrency", "4"])
        let exit = await worker.waitForExit(timeout: .seconds(120))
        #expect(exit?.status == 0, "worker ended \(String(describing: exit)): \(worker.log.suffix(2000))")
        for id in jobs {
            let job = try await fixture.journal.job(id)
            #expect(job.state == .completed, "job \(id) is \(job.state)")
            #expect(job.attempts == 1)
            #expect(worker.log.contains("plugin c-fixture misused job \(id): "), "job \(id): \(worker.log.suffix(2000))")
        }
        // The second completion and the later checkpoint are named, and changed nothing.
        #expect(worker.log.contains("completion (outcome"))
        #expect(worker.log.contains("checkpoint called after the job ended; ignored"))
        try await fixture.expectSound()
    }

    // MARK: Item 11: a job that takes the worker's signals

    /// 1: the job sets SIGTERM to SIG_IGN; 3: it installs its own handler and unblocks TERM in its thread. The
    /// heartbeat puts the worker's handling back (naming the plugin and job), and TERM drains the worker.
    @Test(arguments: [1, 3])
    func aJobThatTakesTermIsUndoneAndTermStillDrains(meddling: Int) async throws {
        let (fixture, fixtures, worker, job) = try await startMeddlingJob(meddling)
        defer { fixture.remove(); fixtures.remove() }
        #expect(await worker.waitForLog("a plugin changed the handling of SIGTERM (running now: c-fixture: job \(job)): put back"), "\(worker.log)")
        try await expectTermDrains(worker, fixture, job)
    }

    /// The job blocks TERM in its own thread: the signal goes to the process, whose other threads take it.
    @Test func aJobThatBlocksTermInItsThreadDoesNotStopTheDrain() async throws {
        let (fixture, fixtures, worker, job) = try await startMeddlingJob(2)
        defer { fixture.remove(); fixtures.remove() }
        try await expectTermDrains(worker, fixture, job)
    }

    private func startMeddlingJob(_ meddling: Int) async throws -> (RunFixture, PluginFixtures, RunningWorker, Int64) {
        let fixture = try RunFixture()
        let fixtures = try PluginFixtures()
        let plugin = try await fixtures.cPlugin("meddles.so", defines: ["JOB_SIGNALS=\(meddling)"])
        let meddled = fixture.directory.file("meddled")
        let job = try await fixture.enqueue("c-steps", "\"\(meddled)\"")
        let worker = try await fixture.start(["--plugin", plugin, "--drain-timeout", "1"])
        var waited = 0
        while !FileManager.default.fileExists(atPath: meddled), waited < 6000, worker.isAlive {
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        #expect(FileManager.default.fileExists(atPath: meddled), "the job never ran: \(worker.log)")
        return (fixture, fixtures, worker, job)
    }

    private func expectTermDrains(_ worker: RunningWorker, _ fixture: RunFixture, _ job: Int64) async throws {
        worker.signal(SIGTERM)
        let exit = await worker.waitForExit(timeout: .seconds(60))
        if exit == nil { worker.signal(SIGKILL) }
        #expect(exit?.status == 0, "TERM did not drain the worker: \(worker.log)")
        #expect(worker.log.contains("received SIGTERM"), "\(worker.log)")
        #expect(try await fixture.journal.job(job).state == .interrupted)
        try await fixture.expectSound()
    }
}
