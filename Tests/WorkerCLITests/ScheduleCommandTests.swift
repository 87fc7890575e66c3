import Foundation
import Testing
import WorkerTestKit

/// `worker schedule ...` against the real binary: the commands, their JSON, and their one-line errors with the
/// contract's exit codes.
@Suite struct ScheduleCommandTests {
    @Test(arguments: StoreKind.allCases)
    func addListShowPauseResumeRunRemove(kind: StoreKind) async throws {
        let cli = try await CLIFixture.make(kind)
        defer { cli.remove() }
        let added = try await cli.ok([
            "schedule", "add", "nightly", "report", "--cron", "0 3 * * *", "--timezone", "Europe/Paris", "--payload", #"{"full": true}"#,
            "--queue", "reports", "--priority", "3", "--missed", "all", "--catch-up-window", "600", "--no-overlap",
        ])
        #expect(added.hasPrefix("schedule nightly added: next tick "))
        let list = try #require(try await cli.json(["schedule", "list", "--json"]) as? [[String: Any]])
        #expect(list.count == 1)
        let nightly = try #require(list.first)
        #expect(nightly["name"] as? String == "nightly" && nightly["cron"] as? String == "0 3 * * *")
        #expect(nightly["timezone"] as? String == "Europe/Paris" && nightly["missed"] as? String == "all")
        #expect(nightly["catch_up_window_seconds"] as? Int == 600 && nightly["no_overlap"] as? Bool == true)
        #expect((nightly["payload"] as? [String: Any])?["full"] as? Bool == true && nightly["paused"] as? Bool == false)
        #expect((nightly["next_tick"] as? String)?.hasSuffix("T02:00:00.000000Z") == true || (nightly["next_tick"] as? String)?.hasSuffix("T01:00:00.000000Z") == true,
                "03:00 in Paris is 01:00 or 02:00 UTC")

        #expect(try await cli.ok(["schedule", "pause", "nightly"]) == "schedule nightly paused")
        #expect(try await cli.ok(["schedule", "list"]).contains("paused"))
        #expect(try await cli.ok(["schedule", "resume", "nightly"]).hasPrefix("schedule nightly active: next tick"))
        let job = try #require(try await cli.json(["schedule", "run", "nightly", "--json"]) as? [String: Any])
        #expect(job["handler"] as? String == "report" && job["queue"] as? String == "reports" && job["state"] as? String == "queued")

        let shown = try #require(try await cli.json(["schedule", "show", "nightly", "--json"]) as? [String: Any])
        #expect(shown["last_job"] as? Int == job["id"] as? Int)
        #expect((shown["totals"] as? [String: Int])?["manual"] == 1)
        let events = try #require(shown["events"] as? [[String: Any]])
        #expect(events.map { $0["outcome"] as? String } == ["manual", "changed", "changed", "changed"])
        let text = try await cli.ok(["schedule", "show", "nightly"])
        #expect(text.contains("schedule nightly: active") && text.contains("manual") && text.contains("job \(job["id"] as? Int ?? 0)"))

        #expect(try await cli.ok(["schedule", "remove", "nightly"]) == "schedule nightly removed")
        #expect(try await cli.ok(["schedule", "list"]).hasPrefix("no schedules"))
        #expect(try await cli.ok(["schedule", "list", "--json"]) == "[]")
    }

    @Test func badInputIsOneLineWithItsExitCode() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        expectFailure(try await cli.worker(["schedule", "add", "a", "noop", "--cron", "61 * * * *"]), status: 64, mentioning: "minute 61 is outside 0-59")
        expectFailure(try await cli.worker(["schedule", "add", "a", "noop", "--cron", "* * *"]), status: 64, mentioning: "--cron")
        expectFailure(try await cli.worker(["schedule", "add", "a", "noop", "--cron", "@daily", "--timezone", "Mars/Olympus"]), status: 64, mentioning: "unknown time zone 'Mars/Olympus'")
        expectFailure(try await cli.worker(["schedule", "add", "a", "noop", "--cron", "@daily", "--missed", "sometimes"]), status: 64, mentioning: "sometimes")
        expectFailure(try await cli.worker(["schedule", "add", "a", "noop", "--cron", "@daily", "--payload", "{no"]), status: 65, mentioning: "payload is not valid JSON")
        expectFailure(try await cli.worker(["schedule", "add", "a", "noop", "--cron", "@daily", "--catch-up-window", "-1"]), status: 64, mentioning: "catch-up-window")
        #expect(!FileManager.default.fileExists(atPath: cli.db), "refused input creates no journal")
        try await cli.ok(["schedule", "add", "a", "noop", "--cron", "@daily"])
        expectFailure(try await cli.worker(["schedule", "add", "a", "noop", "--cron", "@hourly"]), status: 65, mentioning: "--replace")
        #expect(try await cli.ok(["schedule", "add", "a", "other", "--cron", "@hourly", "--replace"]).hasPrefix("schedule a saved"))
        for command in ["show", "pause", "resume", "run", "remove"] {
            expectFailure(try await cli.worker(["schedule", command, "nope"]), status: 66, mentioning: "no schedule named 'nope'")
        }
    }
}
