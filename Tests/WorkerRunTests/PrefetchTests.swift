import Foundation
import Journal
import WorkerStore
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

    /// A worker holding a reserve deeper than its slots is killed: the reserve is left `running` under a dead
    /// worker; the next start recovers it and every job completes exactly once.
    @Test func aKillWithADeepReserveLosesNothing() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        _ = try await fixture.journal.enqueue(batch: Array(repeating: NewJob(handler: "noop"), count: 3000))
        // The 6th round's commit, with a reserve of 40 (how deep `auto` goes depends on the machine's timings:
        // ReserveSizerTests cover that).
        let doomed = try await fixture.start(["--concurrency", "2", "--prefetch", "40"], environment: ["WORKER_CRASH_AT": "commit:exchange@6"])
        #expect(await doomed.waitForExit(timeout: .seconds(60))?.signal == SIGKILL, "\(doomed.log)")
        let orphaned = try await fixture.journal.stats()[.running] ?? 0
        #expect(orphaned > 2, "only \(orphaned) job(s) were held at the kill: nothing was claimed ahead")
        try await fixture.runUntilIdle()
        let stats = try await fixture.journal.stats()
        #expect(stats[.completed] == 3000, "\(stats)")
        try await fixture.expectSound()
    }

    /// Jobs claimed ahead while their handler's jobs were short are given back once they turn long. After 30
    /// `sleep`s of 0 ms the handler is short (its jobs take less than 6 commits at concurrency 3), so the jobs
    /// behind them are claimed ahead: one of 3 s and two of 6 s fill the slots, three of 1 s wait in the reserve.
    /// When the 3 s one ends, the handler is long (unless a commit takes 50 ms): its slot takes one of the
    /// reserve, and the others are given back at the next commit, while the 6 s ones still run.
    @Test func claimedAheadJobsAreGivenBackWhenTheirHandlerTurnsLong() async throws {
        // The premise is a timing one (the handler counts as short while commits are fast): on a machine loaded
        // enough that a 0 ms job takes 300 ms, nothing is claimed ahead and nothing can be given back. The scenario
        // then runs again on a fresh journal, up to three times; every run must lose nothing.
        var givenBack = 0
        var logs: [String] = []
        for _ in 1...3 where givenBack == 0 {
            let fixture = try RunFixture()
            defer { fixture.remove() }
            _ = try await fixture.journal.enqueue(batch: Array(repeating: NewJob(handler: "sleep", payload: #"{"ms": 0}"#), count: 30))
            let long = try await fixture.journal.enqueue(batch: [3000, 6000, 6000, 1000, 1000, 1000].map {
                NewJob(handler: "sleep", payload: #"{"ms": \#($0)}"#)
            }).map(\.id)
            try await fixture.runUntilIdle(["--concurrency", "3"])
            for id in long {
                let events = try await fixture.journal.events(job: id)
                givenBack += events.filter { $0.reason.contains("given back unstarted") }.count
                #expect(events.filter { $0.to == .completed }.count == 1)
            }
            logs.append((try? String(contentsOfFile: fixture.directory.file("idle.log"), encoding: .utf8)) ?? "")
            try await fixture.expectSound()
        }
        #expect(givenBack > 0, "no job was given back in \(logs.count) runs: \(logs.joined(separator: "\n---\n"))")
    }

    /// A reserve of short jobs does not make a more urgent job of another handler wait for the backlog: the
    /// reserve stops in front of it, and it takes the next free slot. Judged from the journal's order of events,
    /// not from timing: once the urgent job is enqueued, no claim may take short jobs without it.
    @Test func anUrgentJobDoesNotWaitForABacklogOfShortOnes() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let backlog = try await fixture.journal.enqueue(batch: Array(repeating: NewJob(handler: "sleep", payload: #"{"ms": 3}"#), count: 2_000))
        let worker = try await fixture.start(["--concurrency", "2"])
        let reserving = try await eventually { (try await fixture.journal.stats()[.completed] ?? 0) >= 100 }
        try #require(reserving, "the backlog did not start: \(worker.log)")
        let effects = fixture.directory.file("urgent.txt")
        let urgent = try await fixture.journal.enqueue(
            NewJob(handler: "append", payload: #"{"path": "\#(effects)", "text": "u"}"#, priority: 10)).job.id
        let done = try await eventually { try await fixture.journal.job(urgent).state == .completed }
        try #require(done, "the urgent job did not complete: \(worker.log)")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit()?.status == 0)

        let events = try await fixture.journal.events(job: urgent)
        let enqueued = try #require(events.first { $0.from == nil })
        let claimed = try #require(events.first { $0.to == .running })
        var overtaking: [String] = []
        for result in backlog {
            let events = try await fixture.journal.events(job: result.id)
            // A claim committed after the enqueue, before the urgent job's claim, in a transaction of its own. A job
            // given back (interrupted) resumes before new ones, as the contract orders: not an overtaking.
            if events.contains(where: {
                $0.to == .running && $0.from != .interrupted && $0.id > enqueued.id && $0.id < claimed.id && $0.at != claimed.at
            }) {
                overtaking.append("job \(result.id): " + events.map { "\($0.from?.rawValue ?? "new")->\($0.to.rawValue) (\($0.reason))" }.joined(separator: ", "))
            }
        }
        #expect(overtaking.isEmpty, "short jobs claimed after the urgent one was enqueued, before it: \(overtaking)")
        try await fixture.expectSound()
    }
}
