import Foundation
import Testing
import WorkerTestKit

@Suite struct EnqueueCommandTests {
    @Test(arguments: StoreKind.allCases)
    func enqueuePrintsTheJobIdAndJSONPrintsTheJobObject(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        #expect(try await cli.ok(["enqueue", "noop"]) == "1")
        let object = try #require(try await cli.json(["enqueue", "sleep", "--payload", #"{"ms": 250}"#, "--queue", "slow",
                                                "--priority", "7", "--max-attempts", "3", "--json"]) as? [String: Any])
        for key in ["id", "handler", "queue", "state", "attempts", "payload", "checkpoint", "created_at", "updated_at"] {
            #expect(object.keys.contains(key), "missing \(key)")
        }
        #expect(object["id"] as? Int == 2)
        #expect(object["handler"] as? String == "sleep")
        #expect(object["queue"] as? String == "slow")
        #expect(object["state"] as? String == "queued")
        #expect(object["priority"] as? Int == 7)
        #expect(object["max_attempts"] as? Int == 3)
        #expect((object["payload"] as? [String: Any])?["ms"] as? Int == 250)
        #expect(object["checkpoint"] is NSNull)
    }

    @Test func theDatabaseComesFromTheFlagThenWORKER_DBThenTheCurrentDirectory() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let viaEnv = cli.directory.file("env.sqlite3")
        #expect(try await cli.worker(["enqueue", "noop"], withDB: false, environment: ["WORKER_DB": viaEnv]).status == 0)
        #expect(FileManager.default.fileExists(atPath: viaEnv))
        #expect(try await cli.worker(["enqueue", "noop"], withDB: false).status == 0)
        #expect(FileManager.default.fileExists(atPath: cli.directory.file("worker.sqlite3")))
        var info = stat()
        #expect(stat(viaEnv, &info) == 0 && info.st_mode & 0o777 == 0o600)
    }

    @Test(arguments: StoreKind.allCases)
    func theSameKeyReturnsTheExistingJob(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        let first = try await cli.ok(["enqueue", "noop", "--key", "invoice-7"])
        let second = try await cli.ok(["enqueue", "noop", "--key", "invoice-7", "--payload", #"{"x":1}"#])
        #expect(first == second)
        let object = try #require(try await cli.json(["enqueue", "noop", "--key", "invoice-7", "--json"]) as? [String: Any])
        #expect(object["created"] as? Bool == false)
        #expect((try await cli.json(["stats", "--json"]) as? [String: Int])?["queued"] == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func delayAndAtScheduleTheJob(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        let delayed = try #require(try await cli.json(["enqueue", "noop", "--delay", "3600", "--json"]) as? [String: Any])
        #expect(delayed["state"] as? String == "scheduled")
        let at = try #require(try await cli.json(["enqueue", "noop", "--at", "2099-01-01T00:00:00Z", "--json"]) as? [String: Any])
        #expect(at["state"] as? String == "scheduled")
        #expect((at["run_at"] as? String)?.hasPrefix("2099-01-01T00:00:00") == true)
        let past = try #require(try await cli.json(["enqueue", "noop", "--at", "2001-01-01T00:00:00.5+02:00", "--json"]) as? [String: Any])
        #expect(past["state"] as? String == "queued")
    }

    @Test(arguments: StoreKind.allCases)
    func payloadsFromAFileEnqueueOneJobPerLine(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        let file = cli.directory.file("jobs.jsonl")
        try (1...25).map { #"{"n": \#($0)}"# }.joined(separator: "\n\n").write(toFile: file, atomically: true, encoding: .utf8)
        let ids = try await cli.ok(["enqueue", "noop", "--payloads-from", file, "--batch-size", "10"]).split(separator: "\n")
        #expect(ids.count == 25)
        #expect(ids.first == "1" && ids.last == "25")
        let fromStdin = try await cli.ok(["enqueue", "noop", "--payloads-from", "-", "--json"], stdin: "1\n2\n3\n")
        #expect(fromStdin.hasPrefix(#"{"enqueued":3,"ids":[26,27,28]}"#))
    }

    @Test(arguments: StoreKind.allCases)
    func aBadLineRollsBackItsBatchOnlyAndNamesTheLine(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        let file = cli.directory.file("jobs.jsonl")
        var lines = (1...30).map { #"{"n": \#($0)}"# }
        lines[24] = #"{"n": 25,}"#
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await cli.worker(["enqueue", "noop", "--payloads-from", file, "--batch-size", "10"])
        #expect(result.status == 65)
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("line 25 of \(file)"))
        #expect(result.stderr.contains("the 20 jobs before line 21 were enqueued"))
        #expect(result.stdout.split(separator: "\n").count == 20)
        #expect((try await cli.json(["stats", "--json"]) as? [String: Int])?["queued"] == 20)
        #expect(try await cli.worker(["journal", "verify"]).status == 0)
    }
}
