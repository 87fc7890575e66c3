import Foundation
import Testing
import WorkerTestKit

/// `worker status`, `worker prune`, and progress lines on a terminal.
@Suite struct OperateCommandTests {
    @Test(arguments: StoreKind.allCases)
    func statusShowsQueuesStatesTheOldestQueuedJobAndLiveWorkers(store: StoreKind) async throws {
        let fixture = try CLIFixture()
        defer { fixture.remove() }
        try await fixture.ok(["enqueue", "noop", "--queue", "mail"])
        try await fixture.ok(["enqueue", "noop", "--queue", "mail", "--delay", "600"])
        let running = try await fixture.ok(["enqueue", "sleep", "--payload", #"{"ms": 60000}"#])
        let worker = try await RunningWorker(
            ["run", "--db", fixture.db, "--plugin", PluginFixtures.examples, "--queue", "default"],
            logPath: fixture.directory.file("worker.log"))
        #expect(await worker.waitForLog("job \(running) sleep started"))

        let table = try await fixture.ok(["status"])
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true).prefix(4) == ["queue", "scheduled", "queued", "running"], "\(table)")
        let mail = try #require(lines.first { $0.hasPrefix("mail ") }).split(separator: " ")
        #expect(Array(mail.prefix(4)) == ["mail", "1", "1", "0"], "\(table)")
        #expect(mail.last != "-", "the oldest queued job's age: \(table)")
        let main = try #require(lines.first { $0.hasPrefix("default ") }).split(separator: " ")
        #expect(Array(main.prefix(4)) == ["default", "0", "0", "1"], "\(table)")
        #expect(main.last == "-")
        #expect(lines.contains { $0.hasPrefix("total ") })
        #expect(lines.contains("1 worker(s):"), "\(table)")
        let row = try #require(lines.first { $0.contains(" \(worker.pid) ") }, "\(table)")
        #expect(row.hasSuffix("live"), "\(row)")

        let status = try #require(try await fixture.json(["status", "--json"]) as? [String: Any])
        let queues = try #require(status["queues"] as? [String: [String: Any]])
        #expect(queues["mail"]?["queued"] as? Int == 1)
        #expect(queues["mail"]?["scheduled"] as? Int == 1)
        #expect((queues["mail"]?["oldest_queued_seconds"] as? Double ?? -1) >= 0)
        #expect(queues["default"]?["running"] as? Int == 1)
        #expect(queues["default"]?["oldest_queued_seconds"] is NSNull)
        let workers = try #require(status["workers"] as? [[String: Any]])
        #expect(workers.count == 1)
        #expect(workers.first?["pid"] as? Int == Int(worker.pid))
        #expect(workers.first?["alive"] as? Bool == true)
        #expect(workers.first?["uptime_seconds"] is Int)

        // Killed: still registered until recovered, and shown as dead.
        worker.signal(SIGKILL)
        _ = await worker.waitForExit()
        let after = try #require(try await fixture.json(["status", "--json"]) as? [String: Any])
        #expect((after["workers"] as? [[String: Any]])?.first?["alive"] as? Bool == false)
        #expect(try await fixture.ok(["status"]).contains("dead: its jobs are recovered at the next start"))
    }

    @Test(arguments: StoreKind.allCases)
    func statusOfAnEmptyJournal(store: StoreKind) async throws {
        let fixture = try CLIFixture()
        defer { fixture.remove() }
        let table = try await fixture.ok(["status"])
        #expect(table.hasSuffix("no live workers"), "\(table)")
    }

    @Test(arguments: StoreKind.allCases)
    func pruneDeletesOnlyCompletedJobsOlderThanTheAge(store: StoreKind) async throws {
        let fixture = try CLIFixture()
        defer { fixture.remove() }
        for _ in 0..<3 { try await fixture.ok(["enqueue", "noop"]) }
        let dead = try await fixture.ok(["enqueue", "fail", "--payload", #"{"times": 5}"#, "--max-attempts", "1"])
        let run = try await fixture.worker(["run", "--plugin", PluginFixtures.examples, "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        let queued = try await fixture.ok(["enqueue", "noop"])

        #expect(try await fixture.ok(["prune", "--completed-older-than", "1h"]) == "pruned 0 completed job(s) older than 1h")
        #expect(try await fixture.ok(["prune", "--completed-older-than", "0", "--dry-run"]) == "would prune 3 completed job(s) older than 0")
        #expect(try await fixture.json(["stats", "--json"]) as? [String: Int] == [
            "scheduled": 0, "queued": 1, "running": 0, "retrying": 0, "interrupted": 0, "completed": 3, "dead": 1, "cancelled": 0,
        ])
        let pruned = try #require(try await fixture.json(["prune", "--completed-older-than", "0s", "--json"]) as? [String: Int])
        #expect(pruned == ["pruned": 3])
        let jobs = try #require(try await fixture.json(["jobs", "--json"]) as? [[String: Any]])
        #expect(Set(jobs.compactMap { $0["id"] as? Int }.map(String.init)) == [dead, queued])
        #expect(try await fixture.ok(["journal", "verify"]).isEmpty == false)
    }

    @Test(arguments: [["prune", "--completed-older-than", "5x"], ["prune", "--completed-older-than", ""], ["prune"],
                      ["run", "--plugin", "x.so", "--prune-completed-older-than", "1y"], ["run", "--plugin", "x.so", "--admin", "localhost"],
                      ["run", "--plugin", "x.so", "--admin", "127.0.0.1:70000"]])
    func badAgesAndAddressesAreUsageErrors(arguments: [String]) async throws {
        let fixture = try CLIFixture()
        defer { fixture.remove() }
        let result = try await fixture.worker(arguments)
        expectFailure(result, status: 64, mentioning: arguments.count > 1 ? arguments[arguments.count - 2] : "--completed-older-than")
    }

    @Test func progressShowsOnATerminalAndNotInAPipe() async throws {
        let fixture = try CLIFixture()
        defer { fixture.remove() }
        let payloads = fixture.directory.file("payloads.jsonl")
        try String(repeating: "{}\n", count: 2500).write(toFile: payloads, atomically: true, encoding: .utf8)
        let piped = try await fixture.worker(["enqueue", "noop", "--payloads-from", payloads])
        #expect(piped.status == 0)
        #expect(piped.stderr.isEmpty, "\(piped.stderr)")
        #expect(piped.stdout.split(separator: "\n").count == 2500)
        // script(1) gives the command a terminal; its output is what the terminal showed.
        let command = "\(ProductBinary.path("worker")) enqueue noop --payloads-from \(payloads) --db \(fixture.db) >/dev/null"
        let onTerminal = try await runProcess("/usr/bin/script", ["-qec", command, "/dev/null"])
        #expect(onTerminal.status == 0, "\(onTerminal.stderr)")
        #expect(onTerminal.stdout.contains("enqueued 2500 job(s)"), "\(onTerminal.stdout)")
        let stats = try #require(try await fixture.json(["stats", "--json"]) as? [String: Int])
        #expect(stats["queued"] == 5000)
    }
}
