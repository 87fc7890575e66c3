import Foundation

/// What a finished child process left behind.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String

    /// Standard error's non-empty lines.
    public var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
}

/// Locates the executables `swift build` put next to the test bundle and runs them.
public enum ProductBinary {
    /// The directory of the built products: $WORKER_BUILD_DIR, else the directory of the running test binary.
    public static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["WORKER_BUILD_DIR"], !dir.isEmpty { return dir }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // The Linux test runner lives inside `<products>/<name>.xctest` on some toolchains.
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("worker").path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.path
    }

    /// The path of the product `name`.
    public static func path(_ name: String) -> String { "\(directory)/\(name)" }
}

/// Runs a process to completion, feeding `stdin`, capturing both outputs through files (no pipe deadlocks).
/// Waits without holding a thread: tests share a cooperative pool of one thread per core, and a blocked one
/// stalls every other test's polling. The environment is the test's, with `ChildProcess.testEnvironment`.
public func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil,
    currentDirectory: String? = nil
) async throws -> ProcessResult {
    let scratch = try TemporaryDirectory("proc")
    defer { scratch.remove() }
    let outPath = scratch.file("out"), errPath = scratch.file("err"), inPath = scratch.file("in")
    _ = FileManager.default.createFile(atPath: inPath, contents: Data((stdin ?? "").utf8))
    var overrides = ChildProcess.testEnvironment
    for (key, value) in environment { overrides[key] = value }
    let process = try await ChildProcess.start(
        executable, arguments, environment: overrides, stdin: inPath, stdout: outPath, stderr: errPath,
        currentDirectory: currentDirectory)
    _ = await process.waitUntilExit()
    return ProcessResult(
        status: process.status ?? -1,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// Starts a process without waiting; its standard output goes to `outputPath`, its standard error to
/// `outputPath`.err.
public func startProcess(_ executable: String, _ arguments: [String], outputPath: String) async throws -> ChildProcess {
    try await ChildProcess.start(executable, arguments, stdout: outputPath, stderr: outputPath + ".err")
}

/// Polls `condition` every 5 ms until it holds (true) or `timeout` passes (false, after a last look).
public func eventually(timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return try await condition()
}
