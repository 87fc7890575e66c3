import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

@Suite struct ResumeCommandTests {
    /// Leaves jobs `running` under a worker that was killed. The jobs sleep `ms`: long enough that the kill comes
    /// first, however slow a loaded machine makes this test (a resumed job sleeps only what is left).
    static func crashWithJobsHeld(_ fixture: RunFixture, count: Int, ms: Int = 5000) async throws -> [Int64] {
        var ids: [Int64] = []
        for _ in 0..<count { ids.append(try await fixture.enqueue("sleep", #"{"ms": \#(ms)}"#)) }
        let doomed = try await fixture.start(log: "doomed.log")
        #expect(await doomed.waitForLog("job \(ids.last!) sleep started"))
        for id in ids {  // a checkpoint landed for each
            let saved = try await eventually { try await fixture.journal.job(id).checkpoint != nil }
            #expect(saved, "job \(id) has no checkpoint: \(doomed.log)")
        }
        doomed.signal(SIGKILL)
        _ = await doomed.waitForExit()
        return ids
    }

    @Test func dryRunPrintsThePlanAndChangesNothing() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let ids = try await Self.crashWithJobsHeld(fixture, count: 2, ms: 600_000)  // never resumed here
        let result = try await runProcess(ProductBinary.path("worker"), ["resume", "--dry-run", "--db", fixture.db])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("recovery plan: 2 job(s) to resume"))
        #expect(result.stdout.contains("dead worker "))
        for id in ids { #expect(result.stdout.contains("job \(id) sleep: attempt 1 of 25, checkpoint")) }
        #expect(result.stdout.contains("plugin examples 1.0.0"))
        for id in ids { #expect(try await fixture.journal.job(id).state == .running) }
    }

    @Test func resumeRunsExactlyTheRecoveredJobsAndExits() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let ids = try await Self.crashWithJobsHeld(fixture, count: 2)
        let untouched = try await fixture.enqueue("noop")
        let result = try await runProcess(ProductBinary.path("worker"), ["resume", "--db", fixture.db] + fixture.pluginArguments)
        #expect(result.status == 0, "\(result.stderr)")
        for id in ids { #expect(try await fixture.journal.job(id).state == .completed) }
        #expect(try await fixture.journal.job(untouched).state == .queued)  // not part of the recovery
        try await fixture.expectSound()
    }

    @Test func aRecoveredJobWithoutItsPluginIsRefusedUnlessSkipped() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue("not-provided")
        do {  // a worker that claims the job, then goes (and with its journal, its liveness lock): dead
            let ghost = try Journal(path: fixture.db)
            try await ghost.register(WorkerRegistration(id: "ghost", pid: 999_999, host: "t", processStartedAt: nil, version: "t"))
            _ = try await ghost.claim(ClaimRequest(worker: "ghost", limit: 1))
        }
        #expect(try await fixture.journal.deadWorkers(except: nil).map(\.id) == ["ghost"])
        let refused = try await runProcess(ProductBinary.path("worker"), ["resume", "--db", fixture.db] + fixture.pluginArguments)
        #expect(refused.status == 78)
        #expect(refused.stderrLines.last?.contains("no loaded plugin provides handler 'not-provided'") == true, "\(refused.stderr)")
        #expect(try await fixture.journal.job(id).state == .running)
        let skipped = try await runProcess(ProductBinary.path("worker"), ["resume", "--skip-missing", "--db", fixture.db] + fixture.pluginArguments)
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect(try await fixture.journal.job(id).state == .interrupted, "\(skipped.stdout) \(skipped.stderr)")  // recovered, left waiting for its plugin
    }

    @Test func aRejectedPluginStopsRunWithExit78() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let bogus = fixture.directory.file("bogus.so")
        try "text".write(toFile: bogus, atomically: true, encoding: .utf8)
        let result = try await runProcess(ProductBinary.path("worker"), ["run", "--db", fixture.db, "--plugin", bogus])
        #expect(result.status == 78)
        #expect(result.stderrLines.last == "worker: error: plugin \(bogus) rejected: it is not a shared library (no ELF header): build it as a .dynamic library product; no job was touched")
        let none = try await runProcess(ProductBinary.path("worker"), ["run", "--db", fixture.db])
        #expect(none.status == 78)
    }
}
