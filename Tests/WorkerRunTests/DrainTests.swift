import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

@Suite struct DrainTests {
    @Test(arguments: StoreKind.allCases)
    func termLetsShortJobsCompleteAndInterruptsLongOnesWhichResumeWhereTheyStopped(store: StoreKind) async throws {
        let fixture = try await RunFixture.make(store)
        defer { fixture.remove() }
        let short = [try await fixture.enqueue("sleep", #"{"ms": 200}"#), try await fixture.enqueue("sleep", #"{"ms": 200}"#)]
        let long = [try await fixture.enqueue("sleep", #"{"ms": 8000}"#), try await fixture.enqueue("sleep", #"{"ms": 8000}"#)]
        // 4 s: time enough for the short ones on a loaded machine, far from enough for the long ones.
        let worker = try await fixture.start(["--drain-timeout", "4"])
        #expect(await worker.waitForLog("job \(long[1]) sleep started"))
        worker.signal(SIGTERM)
        let exit = await worker.waitForExit()
        #expect(exit?.status == 0, "\(worker.log)")
        for id in short { #expect(try await fixture.journal.job(id).state == .completed, "\(worker.log)") }
        for id in long {
            let job = try await fixture.journal.job(id)
            #expect(job.state == .interrupted)
            #expect(job.attempts == 0)  // a drain gives the attempt back
            #expect(job.checkpoint != nil)
            #expect(try await fixture.journal.events(job: id).last?.reason.contains("SIGTERM") == true)
        }
        try await fixture.expectSound()
        // Resumed from their checkpoints (that a resumed sleep sleeps only what is left is proven, without
        // timing, by PluginExecutionTests.aResumedSleepSleepsOnlyWhatIsLeft).
        try await fixture.runUntilIdle()
        let idle = try String(contentsOfFile: fixture.directory.file("idle.log"), encoding: .utf8)
        for id in long {
            #expect(try await fixture.journal.events(job: id).last?.to == .completed)
            #expect(idle.contains("job \(id) sleep resumed from its checkpoint"), "\(idle)")
        }
        try await fixture.expectSound()
    }

    /// A handler sees the drain through the SDK (`isDraining`, `drainDeadline`): the deadline it is given is TERM
    /// plus the drain timeout, and it is cancelled at that deadline, not before. (Lower bounds follow from
    /// causality; the upper bound is taken from the worker's own "received SIGTERM" line.)
    @Test func aHandlerSeesTheRealDrainDeadlineAfterTerm() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let probe = fixture.directory.file("probe.txt")
        let id = try await fixture.enqueue("drain_probe", #"{"path": "\#(probe)"}"#)
        let worker = try await fixture.start(["--plugin", try await PluginFixtures.testPlugins(), "--drain-timeout", "2"])
        #expect(await worker.waitForLog("job \(id) drain_probe started"))
        _ = await eventually(timeout: .seconds(30)) { FileManager.default.fileExists(atPath: probe) }
        let sent = WallClock.system.now()
        worker.signal(SIGTERM)
        let exit = await worker.waitForExit(timeout: .seconds(60))
        #expect(exit?.status == 0, "\(worker.log)")
        let lines = try String(contentsOfFile: probe, encoding: .utf8).split(separator: "\n").map { $0.split(separator: " ") }
        try #require(lines.count == 3 && lines[1].count == 3 && lines[2].count == 2, "probe wrote \(lines)")
        let deadline = try #require(Int64(lines[1][1]))
        let seen = try #require(Int64(lines[1][2]))
        let cancelled = try #require(Int64(lines[2][1]))
        let slack: Int64 = 5_000  // the deadline crosses from the monotonic clock to the wall clock once
        #expect(deadline >= sent + 2_000_000 - slack, "deadline \(deadline - sent) µs after TERM")
        // The drain timeout after the worker logged the signal, and a second for the step from that line to the
        // drain (a loaded machine may act on TERM late: that is not the deadline's error).
        let received = try #require(ScheduleRunTests.loggedAt(worker.log, "received SIGTERM"), "\(worker.log)")
        #expect(deadline <= received + 3_000_000, "deadline \(deadline - received) µs after the worker logged TERM")
        #expect(seen >= sent && seen < deadline, "seen \(seen - sent) µs after TERM")
        #expect(cancelled >= deadline - slack, "cancelled \(deadline - cancelled) µs before its deadline")
        let job = try await fixture.journal.job(id)
        #expect(job.state == .interrupted)
        #expect(try await fixture.journal.events(job: id).last?.reason.contains("drain deadline passed") == true)
        try await fixture.expectSound()
    }

    @Test(arguments: StoreKind.allCases)
    func aHangingHandlerCannotDelayExitPastTheDeadline(store: StoreKind) async throws {
        let fixture = try await RunFixture.make(store)
        defer { fixture.remove() }
        let hang = try await fixture.enqueue("hang", #"{"ms": 120000}"#)
        let worker = try await fixture.start(["--drain-timeout", "0.5"])
        #expect(await worker.waitForLog("job \(hang) hang started"))
        let sent = ContinuousClock.now
        worker.signal(SIGTERM)
        let exit = await worker.waitForExit(timeout: .seconds(60))
        #expect(exit?.status == 0, "\(worker.log)")
        // Deadline 0.5 s + 1 s grace; the handler would block for 120 s (a wide bound: the machine may be loaded).
        #expect(seconds(sent, exit?.at ?? .now) < 30)
        let job = try await fixture.journal.job(hang)
        #expect(job.state == .interrupted)
        #expect(try await fixture.journal.events(job: hang).last?.reason.contains("did not stop in time") == true)
        try await fixture.expectSound()
    }

    @Test(arguments: StoreKind.allCases, [["TERM", "TERM"], ["INT", "INT"], ["TERM", "QUIT"], ["QUIT"]])
    func aSecondSignalOrQuitStopsAtOnce(store: StoreKind, signals: [String]) async throws {
        let fixture = try await RunFixture.make(store)
        defer { fixture.remove() }
        let jobs = [try await fixture.enqueue("sleep", #"{"ms": 60000}"#), try await fixture.enqueue("sleep", #"{"ms": 60000}"#)]
        let worker = try await fixture.start(["--drain-timeout", "60"])
        #expect(await worker.waitForLog("job \(jobs[1]) sleep started"))
        let numbers = ["TERM": SIGTERM, "INT": SIGINT, "QUIT": SIGQUIT]
        for (index, name) in signals.enumerated() {
            if index > 0 { #expect(await worker.waitForLog("received SIG\(signals[0])")) }
            worker.signal(numbers[name]!)
        }
        let sent = ContinuousClock.now
        let exit = await worker.waitForExit(timeout: .seconds(55))
        #expect(exit?.status == 0, "\(worker.log)")
        // The drain deadline is 60 s: it must not have been waited for. Judged from the journal's reasons too, as
        // a loaded machine may make an immediate stop slow.
        #expect(seconds(sent, exit?.at ?? .now) < 30)
        for id in jobs {
            #expect(try await fixture.journal.job(id).state == .interrupted)
            let reason = try await fixture.journal.events(job: id).last?.reason ?? ""
            #expect(!reason.contains("deadline"), "job \(id) waited for the drain deadline: \(reason)")
        }
        try await fixture.expectSound()
    }

    @Test(arguments: StoreKind.allCases)
    func tstpStopsIntakeButKeepsRunningJobs(store: StoreKind) async throws {
        let fixture = try await RunFixture.make(store)
        defer { fixture.remove() }
        let running = try await fixture.enqueue("sleep", #"{"ms": 600}"#)
        let worker = try await fixture.start()
        #expect(await worker.waitForLog("job \(running) sleep started"))
        worker.signal(SIGTSTP)
        #expect(await worker.waitForLog("quiet: intake stopped"))
        #expect(await worker.waitForLog("job \(running) sleep running -> completed"))
        let later = try await fixture.enqueue("noop")  // after the last round that could have been under way
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await fixture.journal.job(later).state == .queued)
        worker.signal(SIGUSR1)
        #expect(await worker.waitForLog("status: quiet"))
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit()?.status == 0)
        #expect(try await fixture.journal.job(later).state == .queued)
        try await fixture.expectSound()
    }

    @Test func exitWhenIdleIgnoresJobsScheduledForLater() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let now = try await fixture.enqueue("noop")
        let later = try await fixture.journal.enqueue(NewJob(handler: "noop", runAt: WallClock.system.now() + 3_600_000_000)).job.id
        let failing = try await fixture.enqueue("fail", #"{"times": 1}"#)
        try await fixture.runUntilIdle()
        #expect(try await fixture.journal.job(now).state == .completed)
        #expect(try await fixture.journal.job(failing).state == .completed)  // retried after its backoff
        #expect(try await fixture.journal.job(failing).attempts == 2)
        #expect(try await fixture.journal.job(later).state == .scheduled)
    }

    @Test func aJobWhoseHandlerIsNotLoadedStaysQueuedAndIsReported() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let orphan = try await fixture.enqueue("not-provided")
        let worker = try await fixture.start()
        #expect(await worker.waitForLog("jobs for handler 'not-provided' stay queued"))
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit()?.status == 0)
        #expect(try await fixture.journal.job(orphan).state == .queued)
        #expect(worker.log.components(separatedBy: "jobs for handler 'not-provided'").count == 2)  // said once
    }

    @Test(arguments: StoreKind.allCases)
    func jobsClaimedAheadAreGivenBackUnstartedAtADrain(store: StoreKind) async throws {
        let fixture = try await RunFixture.make(store)
        defer { fixture.remove() }
        var ids: [Int64] = []
        for _ in 0..<5 { ids.append(try await fixture.enqueue("sleep", #"{"ms": 5000}"#)) }
        let worker = try await fixture.start(["--concurrency", "1", "--prefetch", "3", "--drain-timeout", "0.3"])
        #expect(await worker.waitForLog("job \(ids[0]) sleep started"))
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit()?.status == 0, "\(worker.log)")
        for id in ids[0...3] {
            let job = try await fixture.journal.job(id)
            #expect(job.state == .interrupted)
            #expect(job.attempts == 0)
        }
        #expect(try await fixture.journal.events(job: ids[1]).last?.reason.contains("not started yet") == true)
        #expect(try await fixture.journal.job(ids[4]).state == .queued)
        try await fixture.expectSound()
    }

    /// A supervisor may send TERM while the worker is still starting: from the moment the process catches TERM
    /// (an early handler, installed before any library initialises) it is a drain and exit 0, not death.
    @Test func aTermWhileStartingIsADrain() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        for attempt in 0..<3 {
            let worker = try await fixture.start(log: "start\(attempt).log")
            while !catches(SIGTERM, worker.pid) {
                guard worker.log.isEmpty, worker.isAlive else { break }  // not seen catching: send it anyway
                try await Task.sleep(for: .microseconds(200))
            }
            worker.signal(SIGTERM)
            let exit = await worker.waitForExit(timeout: .seconds(60))
            let diagnosis = exit == nil ? await worker.diagnosis() : ""
            #expect(exit?.status == 0, "exit \(String(describing: exit)) (\(diagnosis)): \(worker.log)")
            #expect(worker.log.contains("received SIGTERM"))
        }
        try await fixture.expectSound()
    }
}

extension DrainTests {
    /// TSTP while starting: quiet, not a stopped process (its default action).
    @Test func aTstpWhileStartingIsQuiet() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        for attempt in 0..<3 {
            let worker = try await fixture.start(log: "tstp\(attempt).log")
            while !catches(SIGTSTP, worker.pid), worker.log.isEmpty, worker.isAlive {
                try await Task.sleep(for: .microseconds(200))
            }
            worker.signal(SIGTSTP)
            #expect(await worker.waitForLog("received SIGTSTP"), "\(worker.log)")
            worker.signal(SIGCONT)  // in case it was stopped after all, so that it can be told to exit
            worker.signal(SIGTERM)
            #expect(await worker.waitForExit(timeout: .seconds(60))?.status == 0)
        }
    }
}

/// Whether the process has a handler for `signal` (`SigCgt` in /proc).
func catches(_ signal: Int32, _ pid: Int32) -> Bool {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") }),
          let mask = UInt64(line.split(separator: "\t").last ?? "", radix: 16) else { return false }
    return mask & (1 << (UInt64(signal) - 1)) != 0
}
