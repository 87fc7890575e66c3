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
/// stalls every other test's polling.
public func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil,
    currentDirectory: String? = nil
) async throws -> ProcessResult {
    let scratch = try TemporaryDirectory("proc")
    defer { scratch.remove() }
    let outPath = scratch.file("out"), errPath = scratch.file("err"), inPath = scratch.file("in")
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    _ = FileManager.default.createFile(atPath: inPath, contents: Data((stdin ?? "").utf8))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env["WORKER_DB"] = nil
    for (key, value) in environment { env[key] = value }
    process.environment = env
    if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
    try process.run()
    // Polled, not a terminationHandler: Foundation now and then misses a child's end (see `ExitedChild`), and a
    // handler that never runs would hang the test for good.
    var status = exitStatus(of: process)
    while status == nil {
        try? await Task.sleep(for: .milliseconds(2))
        status = exitStatus(of: process)
    }
    return ProcessResult(
        status: status ?? -1,
        stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// Starts a process without waiting; its output goes to `outputPath`.
public func startProcess(_ executable: String, _ arguments: [String], outputPath: String) throws -> Process {
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    _ = FileManager.default.createFile(atPath: outputPath + ".err", contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath + ".err"))
    try process.run()
    return process
}

/// Waits for a process from `startProcess` to end, without holding a thread; looks every `poll`. False if it still
/// runs after `timeout`.
public func waitForExit(of process: Process, timeout: Duration = .seconds(60), poll: Duration = .milliseconds(5)) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ExitedChild.status(of: process.processIdentifier) == nil {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: poll)
    }
    return true
}

/// The exit status of an ended process (the signal number when a signal killed it, as Foundation reports it),
/// also when Foundation missed its end (see `ExitedChild`); nil while it runs.
public func exitStatus(of process: Process) -> Int32? {
    if !process.isRunning { return process.terminationStatus }
    return ExitedChild.status(of: process.processIdentifier).map { ($0 & 0x7F) == 0 ? ($0 >> 8) & 0xFF : $0 & 0x7F }
}

/// A child that has exited but that Foundation has not reaped: now and then, with many children started and
/// dying together, Foundation's `Process` misses a child's end (seen: a zombie for ten minutes, `isRunning` true
/// and `waitUntilExit` spinning). The kernel still tells: the zombie's state and its exit code in /proc.
public enum ExitedChild {
    /// The wait status (as `waitpid` reports it) of `pid` if it is a zombie, else nil.
    public static func status(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: end)...].split(separator: " ")  // from field 3 (state) on
        guard fields.first == "Z", fields.count > 49 else { return nil }
        return Int32(fields[49].trimmingCharacters(in: .whitespacesAndNewlines))  // field 52: exit_code
    }
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
