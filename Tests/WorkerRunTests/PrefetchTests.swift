import Foundation
import Journal
import Testing
import WorkerTestKit

/// Claiming ahead (`--prefetch auto`, the default): deep for short jobs, none for long ones, and safe at a kill.
@Suite struct PrefetchTests {
    /// Long jobs are not claimed ahead: a peer (or the next deploy) can start the waiting ones. At concurrency 1
    /// each job is then claimed only once the one before it ended (judged from the journal, not from timing).
    /// Also after a burst of short jobs, which the worker does claim ahead.
    @Test func longJobsAreNotClaimedAhead() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        _ = try await fixture.journal.enqueue(batch: Array(repeating: NewJob(handler: "noop"), count: 200))
        var ids: [Int64] = []
        for _ in 0..<4 { ids.append(try await fixture.enqueue("sleep", #"{"ms": 300}"#)) }
        try await fixture.runUntilIdle(["--concurrency", "1"])
        for (previous, next) in zip(ids, ids.dropFirst()) {
            let ended = try await fixture.journal.events(job: previous).first { $0.to == .completed }
            let claimed = try await fixture.journal.events(job: next).first { $0.to == .running }
            #expect(ended != nil && claimed != nil)
            if let ended, let claimed {
                #expect(claimed.at >= ended.at, "job \(next) was claimed while job \(previous) still ran")
            }
        }
        try await fixture.expectSound()
    }

    /// Short jobs are: the worker holds a reserve deeper than its slots. A SIGKILL then leaves the reserve
    /// `running` under a dead worker; the next start recovers it and every job completes exactly once.
    @Test func aKillWithADeepReserveLosesNothing() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        _ = try await fixture.journal.enqueue(batch: Array(repeating: NewJob(handler: "noop"), count: 3000))
        // The 6th round's commit: by then the reserve is deep (jobs take microseconds, a commit about a millisecond).
        let doomed = try fixture.start(["--concurrency", "2"], environment: ["WORKER_CRASH_AT": "commit:exchange@6"])
        #expect(await doomed.waitForExit(timeout: .seconds(60))?.signal == SIGKILL, "\(doomed.log)")
        let orphaned = try await fixture.journal.stats()[.running] ?? 0
        #expect(orphaned > 2, "only \(orphaned) job(s) were held at the kill: nothing was claimed ahead")
        try await fixture.runUntilIdle()
        let stats = try await fixture.journal.stats()
        #expect(stats[.completed] == 3000, "\(stats)")
        try await fixture.expectSound()
    }

    /// Jobs claimed ahead while their handler's jobs were short are given back once they turn long.
    @Test func claimedAheadJobsAreGivenBackWhenTheirHandlerTurnsLong() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        _ = try await fixture.journal.enqueue(batch: Array(repeating: NewJob(handler: "sleep", payload: #"{"ms": 0}"#), count: 30))
        var long: [Int64] = []
        for _ in 0..<3 { long.append(try await fixture.enqueue("sleep", #"{"ms": 1000}"#)) }
        try await fixture.runUntilIdle(["--concurrency", "1"])
        var givenBack = 0
        for id in long {
            let events = try await fixture.journal.events(job: id)
            givenBack += events.filter { $0.reason.contains("given back unstarted") }.count
            #expect(events.filter { $0.to == .completed }.count == 1)
        }
        #expect(givenBack > 0, "no long job was given back")
        try await fixture.expectSound()
    }

    /// A reserve of short jobs does not make a more urgent job of another handler wait for the backlog: the
    /// reserve stops in front of it, and it takes the next free slot.
    @Test func anUrgentJobDoesNotWaitForABacklogOfShortOnes() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        _ = try await fixture.journal.enqueue(batch: Array(repeating: NewJob(handler: "sleep", payload: #"{"ms": 3}"#), count: 2_000))
        let worker = try fixture.start(["--concurrency", "2"])
        while (try await fixture.journal.stats()[.completed] ?? 0) < 100 {  // running, with a reserve
            try await Task.sleep(for: .milliseconds(5))
        }
        let effects = fixture.directory.file("urgent.txt")
        let urgent = try await fixture.journal.enqueue(
            NewJob(handler: "append", payload: #"{"path": "\#(effects)", "text": "u"}"#, priority: 10)).job.id
        while try await fixture.journal.job(urgent).state != .completed {
            try await Task.sleep(for: .milliseconds(2))
        }
        let waiting = try await fixture.journal.stats()[.queued] ?? 0
        #expect(waiting > 1_000, "the urgent job completed only when \(waiting) short jobs were left")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit()?.status == 0)
        try await fixture.expectSound()
    }
}
