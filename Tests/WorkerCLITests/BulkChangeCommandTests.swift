import Foundation
import Testing
import WorkerTestKit

/// `worker retry` and `worker cancel` with a filter instead of an id, by the real binary.
@Suite struct BulkChangeCommandTests {
    func states(_ cli: CLIFixture) async throws -> [Int: String] {
        let jobs = try #require(try await cli.json(["jobs", "--json", "--limit", "1000"]) as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: jobs.map { ($0["id"] as? Int ?? 0, $0["state"] as? String ?? "") })
    }

    @Test(arguments: StoreKind.allCases)
    func bulkRetryOfDeadJobsByHandler(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        // Jobs 1 and 2 die, 3 completes; 4 (fail, queued) and 5 (other handler, dead) stay as they are.
        try await cli.ok(["enqueue", "fail", "--payload", #"{"times": 9}"#, "--max-attempts", "1"])
        try await cli.ok(["enqueue", "fail", "--payload", #"{"times": 9}"#, "--max-attempts", "1"])
        try await cli.ok(["enqueue", "fail", "--payload", #"{"times": 0}"#])
        try await cli.ok(["enqueue", "crash", "--payload", #"{"how": "none"}"#, "--max-attempts", "1"])
        let run = try await cli.worker(["run", "--plugin", PluginFixtures.examples, "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        try await cli.ok(["enqueue", "fail", "--payload", #"{"times": 9}"#])
        let before = try await states(cli)
        #expect(before == [1: "dead", 2: "dead", 3: "completed", 4: "dead", 5: "queued"], "\(before)")

        // Without --yes: the count, one line, exit 64, nothing changed.
        let refused = try await cli.worker(["retry", "--handler", "fail"])
        expectFailure(refused, status: 64, mentioning: "4 job(s) match: 2 would be retried, 2 skipped (1 completed, 1 queued)")
        #expect(refused.stderr.contains("--yes") && refused.stderr.contains("--dry-run"))
        #expect(try await states(cli) == before)

        // --dry-run lists, changes nothing.
        let listed = try await cli.ok(["retry", "--state", "dead", "--handler", "fail", "--dry-run"]).split(separator: "\n")
        #expect(listed.first?.hasPrefix("ID") == true)
        #expect(listed.dropFirst().prefix(2).map { $0.split(separator: " ").map(String.init) } == [["1", "dead", "->", "queued"], ["2", "dead", "->", "queued"]])
        #expect(listed.last == "would retry 2 job(s); 0 skipped")
        let plan = try #require(try await cli.json(["retry", "--handler", "fail", "--dry-run", "--json"]) as? [String: Any])
        #expect(plan["count"] as? Int == 2 && plan["ids"] as? [Int] == [1, 2] && plan["skipped"] as? Int == 2)
        #expect(plan["skipped_by_reason"] as? [String: Int] == ["completed": 1, "queued": 1])
        #expect(try await states(cli) == before)

        // --yes: only the dead jobs of the handler, each journaled as the single-id retry is.
        let done = try #require(try await cli.json(["retry", "--state", "dead", "--handler", "fail", "--yes", "--json"]) as? [String: Any])
        #expect(done["retried"] as? Int == 2 && done["skipped"] as? Int == 0)
        #expect(try await states(cli) == [1: "queued", 2: "queued", 3: "completed", 4: "dead", 5: "queued"])
        let job = try #require(try await cli.json(["job", "1", "--json"]) as? [String: Any])
        #expect(job["attempts"] as? Int == 0)
        let last = try #require((job["events"] as? [[String: Any]])?.last)
        #expect(last["from"] as? String == "dead" && last["to"] as? String == "queued")
        #expect(last["reason"] as? String == "retried by operator in bulk (--state dead --handler fail)")
        #expect(try await cli.ok(["retry", "--state", "dead", "--handler", "fail", "--yes"]) == "retried 0 job(s); 0 skipped")
        #expect(try await cli.ok(["journal", "verify"]).hasPrefix("journal ok"))
    }

    @Test(arguments: StoreKind.allCases)
    func bulkCancelOfQueuedJobsInAQueue(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        for _ in 0..<3 { try await cli.ok(["enqueue", "noop", "--queue", "mail"]) }
        try await cli.ok(["enqueue", "noop", "--queue", "mail", "--delay", "600"])  // 4: scheduled
        try await cli.ok(["enqueue", "noop"])  // 5: another queue
        let before = try await states(cli)

        expectFailure(try await cli.worker(["cancel", "--queue", "mail", "--state", "queued"]), status: 64, mentioning: "3 job(s) match")
        let dry = try await cli.ok(["cancel", "--queue", "mail", "--state", "queued", "--dry-run"])
        #expect(dry.hasSuffix("would cancel 3 job(s); 0 skipped"), "\(dry)")
        #expect(try await states(cli) == before)

        #expect(try await cli.ok(["cancel", "--queue", "mail", "--state", "queued", "--yes"])
            == "cancelled 3 job(s), requested cancellation of 0 running job(s); 0 skipped")
        #expect(try await states(cli) == [1: "cancelled", 2: "cancelled", 3: "cancelled", 4: "scheduled", 5: "queued"])
        let event = try #require((try await cli.json(["job", "2", "--json"]) as? [String: Any])?["events"] as? [[String: Any]])
        #expect(event.last?["reason"] as? String == "cancelled by operator in bulk (--state queued --queue mail)")

        // The cancelled ones are skipped, by their state; the scheduled one is cancelled.
        let rest = try #require(try await cli.json(["cancel", "--queue", "mail", "--yes", "--json"]) as? [String: Any])
        #expect(rest["cancelled"] as? Int == 1 && rest["cancel_requested"] as? Int == 0)
        #expect(rest["skipped"] as? Int == 3 && rest["skipped_by_reason"] as? [String: Int] == ["cancelled": 3])
        #expect(try await states(cli)[4] == "cancelled")
        #expect(try await states(cli)[5] == "queued")
    }

    @Test(arguments: StoreKind.allCases)
    func bulkCancelAsksTheWorkerOfARunningJobToStopIt(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        let running = try #require(Int(try await cli.ok(["enqueue", "sleep", "--payload", #"{"ms": 60000}"#, "--queue", "slow"])))
        let worker = try await RunningWorker(
            ["run", "--db", cli.db, "--plugin", PluginFixtures.examples, "--queue", "slow"], logPath: cli.directory.file("worker.log"))
        #expect(await worker.waitForLog("job \(running) sleep started"))
        let plan = try #require(try await cli.json(["cancel", "--queue", "slow", "--dry-run", "--json"]) as? [String: Any])
        #expect(plan["count"] as? Int == 1 && plan["cancel_requested_ids"] as? [Int] == [running])
        #expect(try await cli.ok(["cancel", "--queue", "slow", "--yes"]) == "cancelled 0 job(s), requested cancellation of 1 running job(s); 0 skipped")
        #expect(try await eventually { (try await states(cli))[running] == "cancelled" })
        worker.signal(SIGTERM)
        _ = await worker.waitForExit()
    }

    @Test(arguments: StoreKind.allCases)
    func bulkUsageErrors(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop"])
        for arguments in [
            ["retry"], ["cancel"], ["retry", "1", "--state", "dead"], ["cancel", "1", "--queue", "default"],
            ["retry", "--state", "dead", "--yes", "--dry-run"], ["retry", "1", "--yes"], ["cancel", "1", "--dry-run"],
        ] {
            let result = try await cli.worker(arguments)
            expectFailure(result, status: 64, mentioning: arguments.count == 1 ? "pass a job id, or a filter" : "--")
        }
        expectFailure(try await cli.worker(["retry", "--state", "bogus", "--yes"]), status: 64, mentioning: "--state")
        expectFailure(try await cli.worker(["cancel", "--since", "yesterday", "--yes"]), status: 64, mentioning: "--since")
        #expect(try await states(cli) == [1: "queued"])
    }
}
