import Foundation

/// A `worker run` (or any long-running command) started by a test, with its log in a file.
public final class RunningWorker: @unchecked Sendable {  // the Process is only touched through its thread-safe API
    public let process: Process
    public let logPath: String
    public let started = ContinuousClock.now

    /// Starts the worker binary with `arguments`; standard output and error go to `logPath`.
    public init(_ arguments: [String], logPath: String, environment: [String: String] = [:], executable: String? = nil) throws {
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable ?? ProductBinary.path("worker"))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["WORKER_DB"] = nil
        env["WORKER_CRASH_AT"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// A worker its test left running (it failed before stopping it) does not outlive the test.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// The pid.
    public var pid: Int32 { process.processIdentifier }

    /// Whether the process still runs (also when Foundation missed its end: see `ExitedChild`).
    public var isAlive: Bool { process.isRunning && ExitedChild.status(of: pid) == nil }

    /// Sends a signal.
    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Everything logged so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the log contains `text` (true), or `timeout` passes (false). Looks every `poll`.
    public func waitForLog(_ text: String, timeout: Duration = .seconds(20), poll: Duration = .milliseconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if log.contains(text) { return true }
            if !isAlive { return log.contains(text) }
            try? await Task.sleep(for: poll)
        }
        return log.contains(text)  // a last look: the test process itself may have stalled past the deadline
    }

    /// Waits for the process to end; returns its exit status (or the signal that killed it, as `signal`), and
    /// nil when it is still running after `timeout` (the process is then killed). Looks every `poll`.
    public func waitForExit(timeout: Duration = .seconds(30), poll: Duration = .milliseconds(5)) async -> Exit? {
        guard await WorkerTestKit.waitForExit(of: process, timeout: timeout, poll: poll) else {
            kill(process.processIdentifier, SIGKILL)
            _ = await WorkerTestKit.waitForExit(of: process, timeout: .seconds(10), poll: poll)
            return nil
        }
        if process.isRunning, let status = ExitedChild.status(of: process.processIdentifier) {  // not reaped by Foundation
            let signal = status & 0x7F
            return Exit(status: signal == 0 ? (status >> 8) & 0xFF : nil, signal: signal == 0 ? nil : signal, at: ContinuousClock.now)
        }
        return Exit(
            status: process.terminationReason == .exit ? process.terminationStatus : nil,
            signal: process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil,
            at: ContinuousClock.now)
    }

    /// How a process ended.
    public struct Exit: Sendable {
        /// The exit status, when it exited.
        public let status: Int32?
        /// The signal, when one killed it.
        public let signal: Int32?
        /// When the exit was seen.
        public let at: ContinuousClock.Instant
    }
}
