import Foundation

/// Builds plugin files for tests: the C fixture in its variants, and broken files.
public struct PluginFixtures: Sendable {
    /// Where the built files go.
    public let directory: TemporaryDirectory

    /// A fresh directory for plugin files.
    public init() throws {
        directory = try TemporaryDirectory("plugins")
    }

    /// The repository root (for the ABI header and the C fixture source).
    public static var sourceRoot: URL {
        URL(fileURLWithPath: #filePath)  // Sources/TestSupport/WorkerTestKit/PluginFixtures.swift
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The ExamplePlugins library `swift build` produced.
    public static var examples: String { ProductBinary.path("libExamplePlugins.so") }

    /// The plugin of handlers only tests use (`drain_probe`, `step_throws`): its package
    /// (Sources/TestSupport/TestPlugins) is built on first use, once per test process, into a scratch directory of
    /// its own (kept between runs, so later builds are incremental).
    public static func testPlugins() async throws -> String {
        try await TestPluginsBuild.shared.path(sourceRoot: sourceRoot)
    }

    /// Compiles the C fixture with `defines` into `name`.
    public func cPlugin(_ name: String, defines: [String] = []) async throws -> String {
        let output = directory.file(name)
        let root = Self.sourceRoot
        let result = try await runProcess("/usr/bin/env", [
            "cc", "-shared", "-fPIC", "-O1", "-pthread",
            "-I", root.appendingPathComponent("plugins/worker-plugin-sdk/Sources/WorkerPluginABI/include").path,
        ] + defines.map { "-D\($0)" } + [
            root.appendingPathComponent("Tests/PluginHostTests/Fixtures/c_plugin.c").path, "-o", output,
        ])
        guard result.status == 0 else { throw FixtureError(message: "cc failed: \(result.stderr)") }
        return output
    }

    // MARK: Misbehaving plugins and their attackers (issue 11, plugins)

    /// Compiles the C fixture with a constructor that creates `marker`: if that file ever exists, the plugin's
    /// code ran.
    public func markingPlugin(_ name: String, marker: String, defines: [String] = []) async throws -> String {
        try await cPlugin(name, defines: defines + ["CONSTRUCTOR_MARKER=\"\(marker)\""])
    }

    /// Compiles `Tests/PluginHostTests/Fixtures/swap_dirs.c`: `swap_dirs DIR A B` exchanges the entries A and B
    /// of DIR with renameat2(RENAME_EXCHANGE) until killed, as the attacker of issue 11 did.
    public func swapper() async throws -> String {
        let output = directory.file("swap_dirs")
        let source = Self.sourceRoot.appendingPathComponent("Tests/PluginHostTests/Fixtures/swap_dirs.c").path
        let result = try await runProcess("/usr/bin/env", ["cc", "-O1", source, "-o", output])
        guard result.status == 0 else { throw FixtureError(message: "cc failed: \(result.stderr)") }
        return output
    }

    // MARK: -

    /// Writes `text` to `name`.
    public func file(_ name: String, text: String) throws -> String {
        let path = directory.file(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Copies a file, keeping at most `limit` bytes.
    public func copy(_ source: String, to name: String, limit: Int? = nil) throws -> String {
        let path = directory.file(name)
        var data = try Data(contentsOf: URL(fileURLWithPath: source))
        if let limit { data = data.prefix(limit) }
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Deletes the directory.
    public func remove() { directory.remove() }
}

/// A fixture could not be built.
public struct FixtureError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Builds the test plugins' package once per process; every caller waits for the same build.
private actor TestPluginsBuild {
    static let shared = TestPluginsBuild()
    private var build: Task<String, any Error>?

    func path(sourceRoot: URL) async throws -> String {
        if let build { return try await build.value }
        let task = Task { try await Self.run(sourceRoot: sourceRoot) }
        build = task
        return try await task.value
    }

    private static func run(sourceRoot: URL) async throws -> String {
        let package = sourceRoot.appendingPathComponent("Sources/TestSupport/TestPlugins").path
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("worker-test-plugins-\(getuid())").path
        let arguments = ["build", "--package-path", package, "--scratch-path", scratch]
        let built = try await runProcess("/usr/bin/env", ["swift"] + arguments)
        guard built.status == 0 else {
            throw TestPluginsBuildError(message: "swift build of \(package) failed: \(built.stdout.suffix(2000)) \(built.stderr.suffix(2000))")
        }
        let bin = try await runProcess("/usr/bin/env", ["swift"] + arguments + ["--show-bin-path"])
        return bin.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "/libTestPlugins.so"
    }
}

struct TestPluginsBuildError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
