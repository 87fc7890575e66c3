import Foundation
import Testing
import WorkerTestKit

/// The log lines operators feed to collectors (issue 12, item 9): text is time with milliseconds, level,
/// message, then logfmt metadata; JSON carries whole numbers as numbers.
@Suite struct LogFormatTests {
    @Test func textLinesPutTheMessageFirstWithMillisecondsAndLogfmtMetadata() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop"])
        let run = try await cli.worker(["run", "--plugin", PluginFixtures.examples, "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        let line = try #require(run.stderrLines.first { $0.contains("job 1 noop started") }, "\(run.stderr)")
        let pattern = #/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info job 1 noop started \(attempt 1 of 25\) job=1 worker=[^ ]+$/#
        #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
        let loaded = try #require(run.stderrLines.first { $0.contains(" loaded plugin ") }, "\(run.stderr)")
        #expect(loaded.contains(" plugin=examples ") && loaded.contains(" version=1.0.0"), "\(loaded)")
    }

    @Test func jsonLinesCarryWholeNumbersAsNumbers() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop"])
        let run = try await cli.worker(["run", "--plugin", PluginFixtures.examples, "--exit-when-idle", "--log-format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        let objects = try run.stderrLines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "\($0)") }
        let started = try #require(objects.first { ($0["message"] as? String)?.contains("job 1 noop started") == true })
        #expect(started["job"] as? Int == 1, "\(started)")
        #expect(started["worker"] is String)
        let time = try #require(started["time"] as? String)
        #expect(time.wholeMatch(of: #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z/#) != nil, "\(time)")
        #expect(objects.allSatisfy { ($0["sha256"] as? String).map { $0.count == 64 } ?? true }, "a digest stays a string")
    }
}
