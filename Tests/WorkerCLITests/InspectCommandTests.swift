import Foundation
import Testing
import WorkerTestKit

@Suite struct InspectCommandTests {
    @Test(arguments: StoreKind.allCases)
    func jobsListsAndFilters(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop"])
        try await cli.ok(["enqueue", "sleep", "--payload", #"{"ms":1}"#])
        try await cli.ok(["enqueue", "sleep", "--payload", #"{"ms":2}"#])
        try await cli.ok(["cancel", "3"])
        let table = try await cli.ok(["jobs"]).split(separator: "\n")
        #expect(table.count == 4)
        #expect(table[0].hasPrefix("ID"))
        let sleeping = try #require(try await cli.json(["jobs", "--handler", "sleep", "--json"]) as? [[String: Any]])
        #expect(sleeping.map { $0["id"] as? Int } == [2, 3])
        let cancelled = try #require(try await cli.json(["jobs", "--state", "cancelled", "--json"]) as? [[String: Any]])
        #expect(cancelled.map { $0["id"] as? Int } == [3])
        let limited = try #require(try await cli.json(["jobs", "--limit", "1", "--json"]) as? [[String: Any]])
        #expect(limited.count == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func jobShowsItsHistory(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop"])
        try await cli.ok(["cancel", "1"])
        try await cli.ok(["retry", "1"])
        let object = try #require(try await cli.json(["job", "1", "--json"]) as? [String: Any])
        #expect(object["state"] as? String == "queued")
        let events = try #require(object["events"] as? [[String: Any]])
        #expect(events.map { $0["to"] as? String } == ["queued", "cancelled", "queued"])
        #expect(events.map { $0["reason"] as? String } == ["enqueued", "cancelled by operator", "retried by operator"])
        #expect(events.allSatisfy { ($0["pid"] as? Int ?? 0) > 0 && $0["at"] is String })
        let text = try await cli.ok(["job", "1"])
        #expect(text.contains("history:"))
        #expect(text.contains("cancelled -> queued"))
    }

    @Test(arguments: StoreKind.allCases)
    func statsCountsEveryState(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop"])
        try await cli.ok(["enqueue", "noop", "--delay", "600"])
        let stats = try #require(try await cli.json(["stats", "--json"]) as? [String: Int])
        #expect(stats == ["scheduled": 1, "queued": 1, "running": 0, "retrying": 0, "interrupted": 0, "completed": 0, "dead": 0, "cancelled": 0])
        #expect(try await cli.ok(["stats"]).contains("scheduled    1"))
    }

    @Test(arguments: StoreKind.allCases)
    func retryAndCancelRefuseStatesThatDoNotAllowThem(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop"])
        expectFailure(try await cli.worker(["retry", "1"]), status: 65, mentioning: "only dead, cancelled or retrying")
        try await cli.ok(["cancel", "1"])
        #expect(try await cli.ok(["cancel", "1"]).contains("already cancelled"))
        let retried = try #require(try await cli.json(["retry", "1", "--json"]) as? [String: Any])
        #expect(retried["state"] as? String == "queued")
    }

    /// SQLite only: it changes the journal behind the worker with journal-probe.
    @Test func migrateAndVerifyReportOnTheJournal() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        // Every file of migrations/, in order (the binary embeds them).
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("migrations").path
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.count >= 6 && files[0] == "0001_initial.sql")
        #expect(try await cli.json(["migrate", "--json"]) as? [String] == files.map { String($0.dropLast(4)) })
        try await cli.ok(["enqueue", "noop"])
        #expect(try await cli.ok(["journal", "verify"]).contains("journal ok: 1 jobs, 1 events"))
        let tamper = try await runProcess(ProductBinary.path("journal-probe"), ["exec", cli.db, "UPDATE jobs SET state = 'dead', finished_at = 1"])
        #expect(tamper.status == 0)
        let result = try await cli.worker(["journal", "verify", "--json"])
        #expect(result.status == 65)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["ok"] as? Bool == false)
        #expect(report["findings"] as? [String] == ["job 1 is dead but its last event says queued"])
    }
}
