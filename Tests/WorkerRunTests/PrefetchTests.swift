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
}
