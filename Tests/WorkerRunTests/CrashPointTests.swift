import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// Every place the journal writes, crashed at: the points are found in the sources (every write transaction
/// names its label as a literal; `FaultInjection.point("…")` names the others), so a new write point is covered
/// without being listed here. For each one a workload that reaches every point runs with
/// `WORKER_CRASH_AT=<point>` in all its processes; the first to get there is SIGKILLed there (`WORKER_CRASH_ONCE`:
/// only one, so no job is counted as poison); then a clean
/// worker finishes what is left and the journal is checked.
@Suite(.serialized) struct CrashPointTests {  // one workload at a time per half: 28 at once would swamp a 2-core machine
    static let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources").path

    /// `commit:LABEL` for every `transaction("LABEL"` and `transactionBlocking("LABEL"` in the store's sources
    /// (the SQLite journal's here; the other store's are its own), and the names in every
    /// `FaultInjection.point("…")` elsewhere.
    static func points(store: StoreKind = .sqlite) -> [String] {
        var found = Set<String>()
        let otherStore = store == .sqlite ? "PostgresJournal/" : "Journal/"
        let files = (FileManager.default.enumerator(atPath: sources)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".swift") && !$0.hasPrefix(otherStore) }
        let write = try! Regex(#"transaction(?:Blocking)?\("([^"]+)""#)
        let named = try! Regex(#""([a-z][a-z-]*)""#)
        for file in files {
            guard let text = try? String(contentsOfFile: "\(sources)/\(file)", encoding: .utf8) else { continue }
            for match in text.matches(of: write) {
                if let label = match.output[1].substring { found.insert("commit:\(label)") }
            }
            for line in text.split(separator: "\n") where line.contains("FaultInjection.point(") && !line.contains("commit:") {
                for match in line.matches(of: named) {
                    if let name = match.output[1].substring { found.insert(String(name)) }
                }
            }
        }
        return found.sorted()
    }

    @Test func theSourcesNameTheWritePoints() {
        let points = Self.points()
        for expected in ["commit:exchange", "commit:enqueue", "commit:checkpoint", "commit:step-commit", "commit:recover",
                         "after-claim", "before-commit", "drain-finalize"] {
            #expect(points.contains(expected), "\(points)")
        }
    }

    @Test func theWorkloadReachesEveryWritePoint() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let log = fixture.directory.file("points.log")
        try await CrashWorkload(fixture: fixture, environment: ["WORKER_FAULT_LOG": log]).run()
        let reached = Set(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map(String.init))
        let missing = Set(Self.points()).subtracting(reached)
        #expect(missing.isEmpty, "write points the workload never reaches (extend CrashWorkload): \(missing.sorted())")
        try await CrashWorkload.finishAndCheck(fixture, crashedAt: nil)
    }

    /// Every other point (`half` 0 or 1): the points are crashed at by two serialized suites, this one and
    /// `CrashPointTestsSecondHalf`, so two workloads run at a time (the suite was the last to end by 200 s alone).
    static func points(half: Int) -> [String] {
        points().enumerated().filter { $0.offset % 2 == half }.map(\.element)
    }

    @Test func theHalvesTogetherAreEveryPoint() {
        #expect(Set(Self.points(half: 0)).union(Self.points(half: 1)) == Set(Self.points()))
        #expect(Set(Self.points(half: 0)).isDisjoint(with: Self.points(half: 1)))
    }

    @Test(arguments: CrashPointTests.points(half: 0))
    func aCrashAtTheWritePointLosesNothing(point: String) async throws {
        try await Self.crash(at: point)
    }

    static func crash(at point: String) async throws {
        let began = ContinuousClock.now
        defer { print("crash point \(point): \(ContinuousClock.now - began)") }
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let marker = fixture.directory.file("crashed")
        let workload = CrashWorkload(fixture: fixture, environment: ["WORKER_CRASH_AT": point, "WORKER_CRASH_ONCE": marker])
        try await workload.run()
        #expect(FileManager.default.fileExists(atPath: marker), "no process died at \(point): the crash point was not reached")
        try await CrashWorkload.finishAndCheck(fixture, crashedAt: point)
    }
}

/// The other half of `CrashPointTests`' points, one at a time beside it.
@Suite(.serialized) struct CrashPointTestsSecondHalf {
    @Test(arguments: CrashPointTests.points(half: 1))
    func aCrashAtTheWritePointLosesNothing(point: String) async throws {
        try await CrashPointTests.crash(at: point)
    }
}

/// A run through every kind of journal write, by the real binaries: enqueue, a plugin-less consumer
/// (journal-probe: claim, finish one), prune, worker run (register, exchange, checkpoints, steps, heartbeats,
/// a step that throws, an operator's cancel and retry, of one job and in bulk, a drain, deregister), a SIGKILLed worker and the recovery of its jobs.
/// Any step's process may be killed by the crash point; the workload goes on regardless.
struct CrashWorkload {
    let fixture: RunFixture
    let environment: [String: String]
    var effects: String { fixture.directory.file("effects.txt") }

    func cli(_ arguments: [String]) async throws -> ProcessResult {
        try await runProcess(ProductBinary.path("worker"), arguments + ["--db", fixture.db], environment: environment)
    }

    func enqueue(_ handler: String, _ payload: String = "{}", _ extra: [String] = []) async throws -> Int64? {
        Int64(try await cli(["enqueue", handler, "--payload", payload] + extra).stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func worker(_ extra: [String], log: String) async throws -> RunningWorker {
        try await RunningWorker(["run", "--db", fixture.db] + (try await Self.plugins(fixture)) + extra, logPath: fixture.directory.file(log), environment: environment)
    }

    /// The example plugins, and the test plugins for a step that throws.
    static func plugins(_ fixture: RunFixture) async throws -> [String] {
        fixture.pluginArguments + ["--plugin", try await PluginFixtures.testPlugins()]
    }

    func ended(_ worker: RunningWorker) async {
        _ = await worker.waitForExit(timeout: .seconds(60))
    }

    /// Waits (bounded) for `id` to reach one of `states`, or for `worker` to die.
    func await(_ id: Int64?, in states: Set<JobState>, worker: RunningWorker? = nil) async throws {
        guard let id else { return }
        _ = try await eventually(timeout: .seconds(60)) {  // a loaded machine: seconds per step
            if let worker, !worker.isAlive { return true }
            return states.contains(try await fixture.journal.job(id).state)
        }
    }

    func run() async throws {
        // A plugin-less consumer claims and finishes one job; then retention deletes it.
        _ = try await enqueue("noop")
        _ = try await runProcess(ProductBinary.path("journal-probe"), ["claim", fixture.db, "probe", "1"], environment: environment)
        _ = try await cli(["prune", "--completed-older-than", "0"])

        // A bulk cancel and a bulk retry of one job (a crash in the retry leaves it cancelled).
        _ = try await enqueue("noop", "{}", ["--queue", "bulk"])
        _ = try await cli(["cancel", "--queue", "bulk", "--yes"])
        _ = try await cli(["retry", "--queue", "bulk", "--yes"])

        let append = try await enqueue("append", #"{"path": "\#(effects)", "text": "a", "steps": 3, "ms": 20}"#)
        let sleep = try await enqueue("sleep", #"{"ms": 600}"#)
        for _ in 0..<3 { _ = try await enqueue("noop") }
        let doomed = try await enqueue("fail", #"{"times": 9}"#, ["--max-attempts", "1"])
        let throwing = fixture.directory.file("throws.txt")  // its step throws while throws.txt.fail exists: always
        _ = FileManager.default.createFile(atPath: throwing + ".fail", contents: nil)
        let failedStep = try await enqueue("step_throws", #"{"path": "\#(throwing)"}"#, ["--max-attempts", "1"])
        let long = try await enqueue("sleep", #"{"ms": 60000}"#)

        // A schedule through every operator command; the first worker fires its ticks (every second) while it runs.
        for arguments in [["add", "tick", "noop", "--cron", "* * * * * *"], ["add", "tick", "noop", "--cron", "* * * * * *", "--replace"],
                          ["pause", "tick"], ["resume", "tick"], ["run", "tick"]] {
            _ = try await cli(["schedule"] + arguments)
        }
        _ = try await cli(["queue", "set", "spare", "--concurrency", "5"])  // an operator's queue setting (commit:queue)

        let first = try await worker(["--drain-timeout", "0.5"], log: "first.log")
        try await self.await(long, in: [.running], worker: first)
        try await self.await(doomed, in: [.dead], worker: first)
        try await self.await(failedStep, in: [.dead], worker: first)
        if let long { _ = try await cli(["cancel", String(long)]) }
        if let doomed { _ = try await cli(["retry", String(doomed)]) }
        _ = await eventually(timeout: .seconds(60)) {  // the first worker fired the schedule (or died doing it)
            guard first.isAlive else { return true }
            guard let tick = try? await fixture.journal.schedule(named: "tick") else { return false }
            return tick.schedule.pausedAt != nil || tick.totals[.fired] ?? 0 > 0  // paused: its resume was the one killed
        }
        for _ in 0..<2 { _ = try await cli(["schedule", "remove", "tick"]) }  // twice: the first may be the one killed
        try await self.await(append, in: [.completed], worker: first)
        try await self.await(sleep, in: [.completed], worker: first)
        // Long enough to be seen running and still run at the TERM on a loaded machine (a 1.5 s sleep could end
        // before the test saw it start, and the drain then had nothing to finalize).
        let drained = try await enqueue("sleep", #"{"ms": 4000}"#)
        try await self.await(drained, in: [.running], worker: first)
        first.signal(SIGTERM)  // interrupts the sleep at its 0.5 s deadline
        await ended(first)

        let second = try await worker([], log: "second.log")
        try await self.await(drained, in: [.running], worker: second)
        second.signal(SIGKILL)
        _ = await second.waitForExit()
        if let long { _ = try await cli(["cancel", String(long)]) }  // again, in case the first cancel was killed

        let third = try await worker(["--exit-when-idle"], log: "third.log")  // recovers the second's job at boot
        await ended(third)
    }

    /// Finishes everything with a clean worker, then checks: nothing running, nothing completed twice, every job
    /// in the state it must end in, every append step's line there (a line twice only if a worker died during
    /// that job), and `worker journal verify`.
    static func finishAndCheck(_ fixture: RunFixture, crashedAt point: String?, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let cleanup = try await RunningWorker(
            ["run", "--db", fixture.db, "--exit-when-idle"] + (try await plugins(fixture)), logPath: fixture.directory.file("cleanup.log"))
        for job in try await fixture.journal.jobs(JobFilter(handler: "sleep", limit: 1000)) where job.payload.contains("60000") {
            _ = try await runProcess(ProductBinary.path("worker"), ["cancel", String(job.id), "--db", fixture.db])
        }
        let exit = await cleanup.waitForExit(timeout: .seconds(90))
        #expect(exit?.status == 0, "crash at \(point ?? "none"): cleanup exited \(String(describing: exit)): \(cleanup.log.suffix(600))", sourceLocation: sourceLocation)
        try await fixture.expectSound(sourceLocation: sourceLocation)
        for job in try await fixture.journal.jobs(JobFilter(limit: 1000)) {
            let expected: Set<JobState> = switch job.handler {
            case "fail", "step_throws": [.dead]
            case "sleep" where job.payload.contains("60000"): [.cancelled]
            case _ where job.queue == "bulk": point == "commit:bulk-retry" ? [.cancelled, .completed] : [.completed]
            default: [.completed]
            }
            #expect(expected.contains(job.state), "crash at \(point ?? "none"): job \(job.id) \(job.handler) is \(job.state)", sourceLocation: sourceLocation)
        }
        let appends = try await fixture.journal.jobs(JobFilter(handler: "append", limit: 10))
        guard let append = appends.first else { return }  // its enqueue was the one killed
        let lines = ((try? String(contentsOfFile: fixture.directory.file("effects.txt"), encoding: .utf8)) ?? "").split(separator: "\n")
        for step in 1...3 {
            let count = lines.filter { $0 == "a:\(step)" }.count
            #expect(count >= 1, "crash at \(point ?? "none"): step \(step)'s line is missing", sourceLocation: sourceLocation)
            if count > 1 {
                let died = try await fixture.journal.events(job: append.id).contains { $0.reason.contains("died") }
                #expect(died, "crash at \(point ?? "none"): step \(step) ran twice but no worker died during the job", sourceLocation: sourceLocation)
            }
        }
    }
}
