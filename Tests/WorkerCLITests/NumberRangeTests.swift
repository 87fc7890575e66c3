import Foundation
import Testing
import WorkerTestKit

/// Every number a user can give is range-checked: one line naming the flag (64) or the variable (78) and the
/// range, never a trap (SIGILL, exit 132) in a conversion.
@Suite struct NumberRangeTests {
    static let hostileNumbers = ["1e15", "1e300", "-1", "nan", "inf", "9223372036854775808", "-9223372036854775809", "0x7fffffffffffffff1"]

    /// Each flag with the arguments it needs, and the numbers it accepts among `hostileNumbers`.
    static let flags: [(flag: String, command: [String], accepted: Set<String>)] = [
        ("--priority", ["enqueue", "noop"], ["-1"]),
        ("--delay", ["enqueue", "noop"], []),
        ("--max-attempts", ["enqueue", "noop"], []),
        ("--max-payload-bytes", ["enqueue", "noop"], []),
        ("--batch-size", ["enqueue", "noop", "--payloads-from", "-"], []),
        ("--busy-timeout", ["stats"], []),
        ("--limit", ["jobs"], []),
        ("--concurrency", ["run", "--plugin", "x.so"], []),
        ("--prefetch", ["run", "--plugin", "x.so"], []),
        ("--drain-timeout", ["run", "--plugin", "x.so"], []),
        ("--prune-completed-older-than", ["run", "--plugin", "x.so"], []),
        ("--completed-older-than", ["prune"], []),
        ("--admin", ["run", "--plugin", "x.so"], []),
    ]

    static let cases: [(String, [String])] = flags.flatMap { entry in
        hostileNumbers.filter { !entry.accepted.contains($0) }.map { (entry.flag, entry.command + [entry.flag, $0]) }
    }

    @Test(arguments: cases)
    func aFlagOutOfRangeIsOneLineNamingItAndTheRange(flag: String, arguments: [String]) async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let result = try await cli.worker(arguments)
        expectFailure(result, status: 64, mentioning: flag)
        #expect(result.stderr.contains(" from ") && result.stderr.contains(" to "), "no range: \(result.stderr)")
    }

    static let variables: [(String, [String])] = [
        ("WORKER_BUSY_TIMEOUT", ["stats"]),
        ("WORKER_DRAIN_TIMEOUT", ["run", "--plugin", "x.so"]),
        ("WORKER_MAX_PAYLOAD_BYTES", ["enqueue", "noop"]),
    ]

    @Test(arguments: variables.flatMap { variable in (hostileNumbers + ["5 s"]).map { (variable.0, variable.1, $0) } })
    func aVariableOutOfRangeIsOneLineNamingItAndTheRange(variable: String, arguments: [String], value: String) async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let result = try await cli.worker(arguments, environment: [variable: value])
        expectFailure(result, status: 78, mentioning: "\(variable) is '\(value)'")
        #expect(result.stderr.contains(" from ") && result.stderr.contains(" to "), "no range: \(result.stderr)")
    }

    @Test func theNumbersOfTheAttackAreRefusedAndNothingIsEnqueued() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["migrate"])
        expectFailure(try await cli.worker(["enqueue", "noop", "--delay", "1e15"]), status: 64, mentioning: "--delay")
        expectFailure(try await cli.worker(["enqueue", "noop", "--busy-timeout", "3000000"]), status: 64, mentioning: "from 0 to 86400")
        expectFailure(try await cli.worker(["stats"], environment: ["WORKER_BUSY_TIMEOUT": "1e300"]), status: 78, mentioning: "WORKER_BUSY_TIMEOUT")
        expectFailure(try await cli.worker(["run", "--plugin", "x.so", "--drain-timeout", "1e300"]), status: 64, mentioning: "--drain-timeout")
        expectFailure(try await cli.worker(["run", "--plugin", "x.so"], environment: ["WORKER_DRAIN_TIMEOUT": "1e300"]), status: 78, mentioning: "WORKER_DRAIN_TIMEOUT")
        expectFailure(try await cli.worker(["enqueue", "noop", "--at", "9999-12-31T23:59:59Z", "--delay", "1"]), status: 64, mentioning: "exclude")
        expectFailure(try await cli.worker(["job", "9223372036854775808"]), status: 64, mentioning: "<id>")
        expectFailure(try await cli.worker(["job", "0"]), status: 64, mentioning: "from 1 to 9223372036854775807")
        #expect((try await cli.json(["stats", "--json"]) as? [String: Int])?.values.reduce(0, +) == 0)
    }

    @Test func numbersAtTheEdgesOfTheirRangesWork() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        #expect(try await cli.ok(["enqueue", "noop", "--priority", "-5"]) == "1")
        #expect(try await cli.ok(["enqueue", "noop", "--priority=-1000000", "--max-attempts", "1000000"]) == "2")
        #expect(try await cli.ok(["enqueue", "noop", "--priority", "1000000", "--delay", "3153600000", "--busy-timeout", "86400"]) == "3")
        #expect(try await cli.ok(["enqueue", "noop", "--at", "9999-12-31T23:59:59Z"]) == "4")
        let jobs = try #require(try await cli.json(["jobs", "--json", "--limit", "9223372036854775807"]) as? [[String: Any]])
        #expect(jobs.map { $0["priority"] as? Int } == [-5, -1_000_000, 1_000_000, 0])
        #expect(jobs.map { $0["state"] as? String } == ["queued", "queued", "scheduled", "scheduled"])
        #expect(try await cli.ok(["prune", "--completed-older-than", "36500d", "--dry-run"]) == "would prune 0 completed job(s) older than 36500d")
        expectFailure(try await cli.worker(["prune", "--completed-older-than", "36501d"]), status: 64, mentioning: "100 years")
    }
}
