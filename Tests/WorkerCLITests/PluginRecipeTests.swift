import Foundation
import Testing
import WorkerTestKit

/// docs/plugins.md's plugin package, built as the page says (its `Package.swift` and source file, unchanged, beside
/// a checkout named `worker`), then checked and run by the real worker.
@Suite struct PluginRecipeTests {
    /// The ```swift block that follows the line "`name`:" in docs/plugins.md.
    static func block(after name: String, in doc: String) throws -> String {
        let marker = "`\(name)`:\n```swift\n"
        let start = try #require(doc.range(of: marker), "docs/plugins.md has no block for \(name)").upperBound
        let end = try #require(doc.range(of: "```", range: start..<doc.endIndex), "unterminated block for \(name)").lowerBound
        return String(doc[start..<end])
    }

    @Test(.timeLimit(.minutes(5)))
    func theDocsPluginPackageBuildsAgainstTheSDKAloneAndRunsItsJob() async throws {
        let root = PluginFixtures.sourceRoot
        let doc = try String(contentsOf: root.appendingPathComponent("docs/plugins.md"), encoding: .utf8)
        let manifest = try Self.block(after: "Package.swift", in: doc)
        let source = try Self.block(after: "Sources/TextPlugins/CountWords.swift", in: doc)

        // The layout the page assumes: the plugin package beside a checkout called `worker` (here a link to this
        // repository, whatever its own directory is called).
        let scratch = try TemporaryDirectory("plugin-recipe")
        defer { scratch.remove() }
        try FileManager.default.createSymbolicLink(atPath: scratch.file("worker"), withDestinationPath: root.path)
        let package = scratch.file("text-plugins")
        try FileManager.default.createDirectory(atPath: "\(package)/Sources/TextPlugins", withIntermediateDirectories: true)
        try manifest.write(toFile: "\(package)/Package.swift", atomically: true, encoding: .utf8)
        try source.write(toFile: "\(package)/Sources/TextPlugins/CountWords.swift", atomically: true, encoding: .utf8)

        let build = try await runProcess(
            "/usr/bin/env", ["swift", "build", "-c", "release", "--product", "TextPlugins"], currentDirectory: package)
        #expect(build.status == 0, "swift build: \(build.stdout)\(build.stderr)")
        // Only the SDK was resolved: nothing of the worker's own dependencies (GRDB, Hummingbird, NIO, crypto...).
        let shown = try await runProcess("/usr/bin/env", ["swift", "package", "show-dependencies", "--format", "json"], currentDirectory: package)
        let tree = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any], "\(shown.stderr)")
        let dependencies = tree["dependencies"] as? [[String: Any]] ?? []
        #expect(dependencies.map { $0["identity"] as? String ?? "?" } == ["worker-plugin-sdk"], "\(shown.stdout)")
        #expect(dependencies.allSatisfy { ($0["dependencies"] as? [Any])?.isEmpty == true }, "\(shown.stdout)")

        let library = "\(package)/.build/release/libTextPlugins.so"
        let check = try await runProcess(ProductBinary.path("worker"), ["plugins", "check", library])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("text 1.0.0 sha256:") && check.stdout.contains("handlers: count-words"), "\(check.stdout)")

        // Its job runs: one journaled step per file, checkpoints awaited, the report written; a missing file is a
        // PermanentFailure thrown from inside a step: dead at once, with the reason.
        let cli = try CLIFixture()
        defer { cli.remove() }
        let first = cli.directory.file("a.txt"), second = cli.directory.file("b.txt"), report = cli.directory.file("counts.txt")
        try "one two\nthree\n".write(toFile: first, atomically: true, encoding: .utf8)
        try "four  five".write(toFile: second, atomically: true, encoding: .utf8)
        let counted = try await cli.ok(["enqueue", "count-words", #"{"files": ["\#(first)", "\#(second)"], "report": "\#(report)"}"#])
        let missing = try await cli.ok(["enqueue", "count-words", #"{"files": ["\#(cli.directory.file("none.txt"))"], "report": "\#(report).2"}"#])
        let run = try await cli.worker(["run", "--plugin", library, "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try String(contentsOfFile: report, encoding: .utf8) == "\(first): 3\n\(second): 2")
        let done = try #require(try await cli.json(["job", counted, "--json"]) as? [String: Any])
        #expect(done["state"] as? String == "completed", "\(done)")
        let dead = try #require(try await cli.json(["job", missing, "--json"]) as? [String: Any])
        #expect(dead["state"] as? String == "dead", "\(dead)")
        #expect((dead["last_error"] as? String)?.contains("cannot read \(cli.directory.file("none.txt"))") == true, "\(dead)")
    }
}
