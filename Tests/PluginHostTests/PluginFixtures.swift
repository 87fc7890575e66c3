import Foundation
import Testing
import WorkerTestKit

/// Builds plugin files for tests: the C fixture in its variants, and broken files.
struct PluginFixtures {
    let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory("plugins")
    }

    static var sourceRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The ExamplePlugins library `swift build` produced.
    static var examples: String { ProductBinary.path("libExamplePlugins.so") }

    /// Compiles the C fixture with `defines` into `name`.
    func cPlugin(_ name: String, defines: [String] = []) throws -> String {
        let output = directory.file(name)
        let root = Self.sourceRoot
        let result = try runProcess("/usr/bin/env", [
            "cc", "-shared", "-fPIC", "-O1", "-pthread",
            "-I", root.appendingPathComponent("Sources/WorkerPluginABI/include").path,
        ] + defines.map { "-D\($0)" } + [
            root.appendingPathComponent("Tests/PluginHostTests/Fixtures/c_plugin.c").path, "-o", output,
        ])
        guard result.status == 0 else { throw FixtureError(message: "cc failed: \(result.stderr)") }
        return output
    }

    /// Writes `text` to `name`.
    func file(_ name: String, text: String) throws -> String {
        let path = directory.file(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Copies a file, keeping at most `limit` bytes.
    func copy(_ source: String, to name: String, limit: Int? = nil) throws -> String {
        let path = directory.file(name)
        var data = try Data(contentsOf: URL(fileURLWithPath: source))
        if let limit { data = data.prefix(limit) }
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    func remove() { directory.remove() }
}

struct FixtureError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
