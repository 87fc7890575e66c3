import Foundation
import Testing
import WorkerTestKit

/// `worker jobs --newest-first --after ID --since AGE|TIME --search TEXT`, by the real binary.
@Suite struct FindJobsTests {
    func ids(_ cli: CLIFixture, _ arguments: [String]) async throws -> [Int] {
        try #require(try await cli.json(["jobs", "--json"] + arguments) as? [[String: Any]]).compactMap { $0["id"] as? Int }
    }

    /// Follows the `worker: note: more jobs: add --after N` of each full page of the text listing.
    func pages(_ cli: CLIFixture, _ arguments: [String]) async throws -> [Int] {
        var seen: [Int] = []
        var cursor: [String] = []
        for _ in 0..<20 {
            let result = try await cli.worker(["jobs", "--limit", "3"] + arguments + cursor)
            #expect(result.status == 0, "\(result.stderr)")
            seen += result.stdout.split(separator: "\n").dropFirst().compactMap { Int($0.split(separator: " ").first ?? "") }
            guard let note = result.stderrLines.first else { return seen }
            #expect(result.stderrLines.count == 1 && note.hasPrefix("worker: note: more jobs: add --after "), "\(result.stderr)")
            cursor = ["--after", String(note.split(separator: " ").last ?? "")]
        }
        Issue.record("more than 20 pages")
        return seen
    }

    @Test(arguments: StoreKind.allCases)
    func newestFirstAndPagingVisitEachJobOnceInBothOrders(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop", "--payloads-from", "-"], stdin: (1...8).map { #"{"n": \#($0)}"# }.joined(separator: "\n"))
        try await cli.ok(["enqueue", "sleep", "--payload", #"{"ms": 1}"#])
        #expect(try await ids(cli, []) == Array(1...9))
        #expect(try await ids(cli, ["--newest-first"]) == Array((1...9).reversed()))
        #expect(try await pages(cli, []) == Array(1...9))
        #expect(try await pages(cli, ["--newest-first"]) == Array((1...9).reversed()))
        #expect(try await pages(cli, ["--handler", "noop", "--newest-first"]) == Array((1...8).reversed()))
        #expect(try await ids(cli, ["--after", "7"]) == [8, 9])
        #expect(try await ids(cli, ["--after", "7", "--newest-first", "--limit", "2"]) == [6, 5])
        // --json stays a bare array, with no note even when the page is full.
        let full = try await cli.worker(["jobs", "--json", "--limit", "2"])
        #expect(full.status == 0 && full.stderr.isEmpty, "\(full.stderr)")
        #expect(try await ids(cli, ["--limit", "2"]) == [1, 2])
    }

    /// SQLite only: it changes the journal behind the worker with journal-probe.
    @Test func sinceTakesAnAgeOrATime() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop"])
        try await cli.ok(["enqueue", "noop"])
        // Job 1 made two hours old.
        let aged = try await runProcess(
            ProductBinary.path("journal-probe"), ["exec", cli.db, "UPDATE jobs SET created_at = created_at - 7200000000 WHERE id = 1"])
        #expect(aged.status == 0, "\(aged.stderr)")
        #expect(try await ids(cli, ["--since", "1h"]) == [2])
        #expect(try await ids(cli, ["--since", "1h59m"]) == [2])
        #expect(try await ids(cli, ["--since", "3h"]) == [1, 2])
        #expect(try await ids(cli, ["--since", "10800"]) == [1, 2])
        let ninetyMinutesAgo = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-5400))
        #expect(try await ids(cli, ["--since", ninetyMinutesAgo]) == [2])
        #expect(try await ids(cli, ["--since", "2000-01-01T00:00:00Z"]) == [1, 2])
        #expect(try await ids(cli, ["--since", "9999-01-01T00:00:00.5Z"]).isEmpty)
        #expect(try await ids(cli, ["--since", "3h", "--newest-first"]) == [2, 1])
    }

    @Test(arguments: StoreKind.allCases)
    func searchFindsTextInPayloadOrLastErrorLiterally(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop", "--payload", #"{"offer": "50%_off"}"#])
        try await cli.ok(["enqueue", "noop", "--payload", #"{"offer": "50 percent off"}"#])
        try await cli.ok(["enqueue", "noop", "--payload", #"{"offer": "500Xoff"}"#])
        try await cli.ok(["enqueue", "fail", "--payload", #"{"times": 3}"#, "--max-attempts", "1", "--queue", "failing"])
        let run = try await cli.worker(["run", "--plugin", PluginFixtures.examples, "--queue", "failing", "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        // As LIKE patterns, "50%", "%_off" and "_" would match the others too.
        #expect(try await ids(cli, ["--search", "50%"]) == [1])
        #expect(try await ids(cli, ["--search", "%_off"]) == [1])
        #expect(try await ids(cli, ["--search", "_"]) == [1])
        #expect(try await ids(cli, ["--search", "off", "--newest-first"]) == [3, 2, 1])
        // The fail handler's error is in the last error only, not in the payload.
        #expect(try await ids(cli, ["--search", "planned failure"]) == [4])
        #expect(try await ids(cli, ["--search", "Planned failure"]).isEmpty)  // case-sensitive
        #expect(try await ids(cli, ["--search", "off", "--since", "1h", "--queue", "default", "--limit", "1"]) == [1])
    }

    @Test(arguments: StoreKind.allCases)
    func badFindingFlagsAreUsageErrors(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        expectFailure(try await cli.worker(["jobs", "--state", "bogus"]), status: 64, mentioning: "--state")
        expectFailure(try await cli.worker(["jobs", "--since", "yesterday"]), status: 64, mentioning: "--since")
        expectFailure(try await cli.worker(["jobs", "--since", "2026-13-01T00:00:00Z"]), status: 64, mentioning: "ISO 8601")
        expectFailure(try await cli.worker(["jobs", "--after", "-1"]), status: 64, mentioning: "--after")
        expectFailure(try await cli.worker(["jobs", "--after", "x"]), status: 64, mentioning: "--after")
        expectFailure(try await cli.worker(["jobs", "--search", ""]), status: 64, mentioning: "--search")
    }
}
