import Foundation
import Testing
import WorkerTestKit

/// docs/plugins.md's plugin package, written from the page (its `Package.swift` and source file, unchanged, beside
/// a checkout named `worker`) and built, checked and run by the page's own commands against the real worker.
@Suite struct PluginRecipeTests {
    /// The fenced block of `language` that follows the line `introduction` in docs/plugins.md.
    static func block(_ language: String, after introduction: String, in doc: String) throws -> String {
        let marker = "\(introduction)\n\n```\(language)\n"
        let start = try #require(doc.range(of: marker) ?? doc.range(of: marker.replacingOccurrences(of: "\n\n", with: "\n")),
                                 "docs/plugins.md has no \(language) block after \(introduction)").upperBound
        let end = try #require(doc.range(of: "```", range: start..<doc.endIndex), "unterminated block after \(introduction)").lowerBound
        return String(doc[start..<end])
    }

    @Test(.timeLimit(.minutes(10)))
    func theDocsPluginPackageBuildsAgainstTheSDKAloneAndRunsItsJob() async throws {
        let root = PluginFixtures.sourceRoot
        let doc = try String(contentsOf: root.appendingPathComponent("docs/plugins.md"), encoding: .utf8)
        let manifest = try Self.block("swift", after: "`Package.swift`:", in: doc)
        let source = try Self.block("swift", after: "`Sources/TextPlugins/CountWords.swift`:", in: doc)
        let commands = try Self.block("sh", after: "Build it, check it, and run a job with it (from the plugin package's directory):", in: doc)

        // The layout the page assumes: the plugin package beside a checkout called `worker` (here a link to this
        // repository, whatever its own directory is called).
        let scratch = try TemporaryDirectory("plugin-recipe")
        defer { scratch.remove() }
        try FileManager.default.createSymbolicLink(atPath: scratch.file("worker"), withDestinationPath: root.path)
        let package = scratch.file("text-plugins")
        try FileManager.default.createDirectory(atPath: "\(package)/Sources/TextPlugins", withIntermediateDirectories: true)
        try manifest.write(toFile: "\(package)/Package.swift", atomically: true, encoding: .utf8)
        try source.write(toFile: "\(package)/Sources/TextPlugins/CountWords.swift", atomically: true, encoding: .utf8)

        // The page's commands as a shell script, `worker` being the built binary on the fixture's database; only
        // `worker run` gets --exit-when-idle, so that it returns once the job is done.
        let cli = try CLIFixture()
        defer { cli.remove() }
        let script = """
            set -e
            worker() { if [ "$1" = run ]; then shift; "$WORKER_BIN" run --exit-when-idle "$@"; else "$WORKER_BIN" "$@"; fi; }
            \(commands)
            """
        let ran = try await runProcess(
            "/bin/sh", ["-c", script], environment: ["WORKER_BIN": ProductBinary.path("worker"), "WORKER_DB": cli.db],
            currentDirectory: package)
        #expect(ran.status == 0, "\(ran.stdout)\(ran.stderr)")
        #expect(ran.stdout.contains("text 1.0.0 sha256:") && ran.stdout.contains("handlers: count-words"), "\(ran.stdout)")
        let words = manifest.split(whereSeparator: \.isWhitespace).count
        #expect(try String(contentsOfFile: "\(package)/counts.txt", encoding: .utf8) == "Package.swift: \(words)")
        let jobs = try #require(try await cli.json(["jobs", "--json"]) as? [[String: Any]])
        #expect(jobs.map { $0["state"] as? String } == ["completed"], "\(jobs)")
        let id = try #require((jobs.first?["id"] as? NSNumber)?.int64Value)
        let done = try #require(try await cli.json(["job", "\(id)", "--json"]) as? [String: Any])
        #expect((done["checkpoint"] as? [String: Any])?["filesCounted"] as? Int == 1, "the awaited checkpoint was journaled: \(done)")

        // Only the SDK was resolved: nothing of the worker's own dependencies (GRDB, Hummingbird, NIO, crypto...).
        let shown = try await runProcess("/usr/bin/env", ["swift", "package", "show-dependencies", "--format", "json"], currentDirectory: package)
        let tree = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any], "\(shown.stderr)")
        let dependencies = tree["dependencies"] as? [[String: Any]] ?? []
        #expect(dependencies.map { $0["identity"] as? String ?? "?" } == ["worker-plugin-sdk"], "\(shown.stdout)")
        #expect(dependencies.allSatisfy { ($0["dependencies"] as? [Any])?.isEmpty == true }, "\(shown.stdout)")

        // A file it cannot read: a PermanentFailure thrown inside a step makes the job dead at once, with the reason.
        let missing = cli.directory.file("none.txt")
        let job = try await cli.ok(["enqueue", "count-words", "--payload", #"{"files": ["\#(missing)"], "report": "\#(missing).count"}"#])
        let run = try await cli.worker(["run", "--plugin", "\(package)/.build/release/libTextPlugins.so", "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        let dead = try #require(try await cli.json(["job", job, "--json"]) as? [String: Any])
        #expect(dead["state"] as? String == "dead", "\(dead)")
        #expect(dead["attempts"] as? Int == 1, "\(dead)")
        #expect((dead["last_error"] as? String)?.contains("cannot read \(missing)") == true, "\(dead)")
    }
}
