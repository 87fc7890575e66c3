import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// A live worker must never be taken for dead, and a dead one never kept "live" (issue 11, items 2, 3 and 5):
/// liveness follows the database file itself, however it is reached, and no child inherits it.
@Suite struct LivenessAttackTests {
    /// A second worker started on `otherPath` (a symlink or hard link to the first one's database) takes nothing
    /// from the first, which finishes its own jobs.
    func expectSecondWorkerRobsNothing(otherPath: (RunFixture) throws -> String) async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let ids = [
            try await fixture.enqueue("sleep", #"{"ms": 3000}"#),
            try await fixture.enqueue("sleep", #"{"ms": 3000}"#),
        ]
        let first = try await fixture.start()
        for id in ids { #expect(await first.waitForLog("job \(id) sleep started"), "\(first.log)") }
        let path = try otherPath(fixture)
        let second = try await RunningWorker(
            ["run", "--db", path] + fixture.pluginArguments, logPath: fixture.directory.file("second.log"))
        #expect(await second.waitForLog("ready:"), "\(second.log)")
        #expect(second.log.contains("recovered 0 job(s) of 0 dead worker(s)"), "\(second.log)")
        let finished = try await eventually(timeout: .seconds(60)) {
            try await fixture.journal.stats()[.completed] == ids.count
        }
        #expect(finished)
        first.signal(SIGTERM)
        second.signal(SIGTERM)
        #expect(await first.waitForExit()?.status == 0, "\(first.log)")
        #expect(await second.waitForExit()?.status == 0, "\(second.log)")
        for id in ids {
            let events = try await fixture.journal.events(job: id)
            #expect(events.filter { $0.to == .running }.count == 1, "job \(id) ran \(events.filter { $0.to == .running }.count) times")
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.db + "-workers"), "no lock directory to delete or plant")
        try await fixture.expectSound()
    }

    @Test func aWorkerStartedOnASymlinkToTheDatabaseRobsNoLiveWorker() async throws {
        try await expectSecondWorkerRobsNothing { fixture in
            let elsewhere = fixture.directory.file("elsewhere")
            try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
            let link = "\(elsewhere)/link.sqlite3"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: fixture.db)
            return link
        }
    }

    @Test func aWorkerStartedOnAHardLinkToTheDatabaseRobsNoLiveWorker() async throws {
        try await expectSecondWorkerRobsNothing { fixture in
            let hardLink = fixture.directory.file("hard.sqlite3")
            #expect(link(fixture.db, hardLink) == 0)
            return hardLink
        }
    }

    @Test func aChildForkedByAHandlerDoesNotKeepADeadWorkerLive() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let plugins = try PluginFixtures()
        defer { plugins.remove() }
        let plugin = try await plugins.cPlugin("forks.so", defines: ["FORKS"])
        let childFile = fixture.directory.file("child.pid")
        let job = try await fixture.enqueue("c-steps", "\"\(childFile)\"")
        let worker = try await RunningWorker(
            ["run", "--db", fixture.db, "--plugin", plugin], logPath: fixture.directory.file("worker.log"))
        let forked = await eventually(timeout: .seconds(30)) {
            Int32(((try? String(contentsOfFile: childFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) != nil
        }
        #expect(forked, "\(worker.log)")
        let child = try #require(Int32(try String(contentsOfFile: childFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(child, SIGKILL) }
        worker.signal(SIGKILL)  // the worker alone: its forked child lives on
        #expect(await worker.waitForExit()?.signal == SIGKILL)
        #expect(kill(child, 0) == 0, "the forked child must still run for this test to mean anything")
        // The worker is dead at once, although its child lives on: its job is recovered now.
        let plan = try await runProcess(ProductBinary.path("worker"), ["resume", "--dry-run", "--json", "--db", fixture.db])
        #expect(plan.status == 0, "\(plan.stderr)")
        let parsed = try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as? [String: Any]
        let dead = parsed?["dead_workers"] as? [[String: Any]] ?? []
        let recovered = dead.flatMap { ($0["jobs"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value } }
        #expect(recovered == [job], "\(plan.stdout)")
        #expect(try await fixture.journal.deadWorkers(except: nil).count == 1)
    }
}
