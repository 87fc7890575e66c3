import Foundation
import Testing
import WorkerTestKit

/// `worker queue pause|resume|set|list` and `enqueue --concurrency-key`, on both stores: data as JSON, errors as
/// one line with the contract's exit code.
@Suite struct QueueCommandTests {
    @Test(arguments: StoreKind.allCases)
    func queuesArePausedLimitedAndListed(kind: StoreKind) async throws {
        let fixture = try await CLIFixture.make(kind)
        defer { fixture.remove() }
        try await fixture.ok(["enqueue", "noop", "--queue", "mail", "--concurrency-key", "customer-1"])
        let job = try #require(try await fixture.json(["job", "1", "--json"]) as? [String: Any])
        #expect(job["concurrency_key"] as? String == "customer-1", "\(job)")
        #expect(try await fixture.ok(["queue", "pause", "mail"]).contains("queue mail paused"))
        let set = try #require(try await fixture.json(["queue", "set", "mail", "--concurrency", "2", "--rate", "20/1", "--per-key-concurrency", "1", "--timeout", "30", "--json"]) as? [String: Any])
        #expect(set["concurrency"] as? Int == 2 && set["rate_limit"] as? Int == 20 && set["per_key_concurrency"] as? Int == 1 && set["paused"] as? Bool == true)
        #expect(try await fixture.ok(["queue", "set", "mail", "--rate", "none"]) == "queue mail: concurrency=2 per-key-concurrency=1 timeout=30")
        let listed = try #require(try await fixture.json(["queue", "list", "--json"]) as? [[String: Any]])
        #expect(listed.count == 1 && listed[0]["name"] as? String == "mail" && listed[0]["waiting"] as? Int == 1)
        #expect(listed[0]["rate_limit"] is NSNull && listed[0]["paused"] as? Bool == true)
        let table = try await fixture.ok(["queue", "list"])
        #expect(table.contains("mail") && table.contains("paused") && table.contains("concurrency=2"), "\(table)")
        let status = try await fixture.ok(["status"])
        #expect(status.contains("queue mail: paused"), "\(status)")
        #expect(try await fixture.ok(["queue", "resume", "mail"]) == "queue mail resumed")
        #expect(!(try await fixture.ok(["queue", "list"])).contains("paused"))
    }

    @Test(arguments: StoreKind.allCases)
    func badQueueCommandsAreOneLineWithExitCode64(kind: StoreKind) async throws {
        let fixture = try await CLIFixture.make(kind)
        defer { fixture.remove() }
        let cases: [([String], String)] = [
            (["queue", "set", "q"], "nothing to set"),
            (["queue", "set", "q", "--concurrency", "0"], "--concurrency"),
            (["queue", "set", "q", "--concurrency", "many"], "--concurrency"),
            (["queue", "set", "q", "--rate", "20"], "--rate"),
            (["queue", "set", "q", "--rate", "20/0"], "--rate"),
            (["queue", "set", "q", "--per-key-concurrency", "-1"], "--per-key-concurrency"),
            (["queue", "set", "q", "--timeout", "700000"], "--timeout"),
            (["queue", "pause", "bad name"], "queue name"),
            (["enqueue", "noop", "--concurrency-key", ""], "concurrency key"),
        ]
        for (arguments, mentioning) in cases {
            expectFailure(try await fixture.worker(arguments), status: 64, mentioning: mentioning)
        }
        #expect(try await fixture.ok(["queue", "list"]) == "no queues: nothing enqueued and nothing set", "nothing was written")
    }
}
