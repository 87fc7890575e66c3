import Foundation

/// A `worker run` (or any long-running command) started by a test, with its log in a file.
public final class RunningWorker: Sendable {
    /// The process.
    public let process: ChildProcess
    public let logPath: String

    /// Starts the worker binary (or `executable`) with `arguments`; standard output and error go to `logPath`.
    /// `WORKER_DB` and `WORKER_CRASH_AT` are not inherited from the test's environment, and Swift's crash report is
    /// off unless `environment` sets `SWIFT_BACKTRACE` (see `ChildProcess.testEnvironment`). It leads a process group
    /// of its own: a worker that crashed starts swift-backtrace, which has been seen to hang (the worker then
    /// never exits); killing the group when the worker overstays `waitForExit` ends both, instead of orphaning
    /// the helper.
    public init(_ arguments: [String], logPath: String, environment: [String: String] = [:], executable: String? = nil) async throws {
        self.logPath = logPath
        var overrides = ChildProcess.testEnvironment
        overrides["WORKER_CRASH_AT"] = .some(nil)
        for (key, value) in environment { overrides[key] = value }
        process = try await ChildProcess.start(executable ?? ProductBinary.path("worker"), arguments, environment: overrides, stdout: logPath, ownGroup: true)
    }

    /// The pid.
    public var pid: Int32 { process.pid }

    /// When it was started.
    public var started: ContinuousClock.Instant { process.started }

    /// Whether the process still runs.
    public var isAlive: Bool { process.isAlive }

    /// The kernel's view of a worker not seen ending, with its threads' stacks (see `ChildProcess.diagnosis` and
    /// `ChildProcess.stacks`).
    public func diagnosis() async -> String { process.diagnosis + "\n" + (await process.stacks()) }

    /// Sends a signal to the worker alone (nothing once it ended): a child it forked lives on.
    public func signal(_ signal: Int32) {
        process.signal(signal)
    }

    /// SIGKILL for the worker and everything in its process group, as a supervisor kills a unit's cgroup.
    public func killGroup() {
        process.killGroup()
    }

    /// Everything logged so far.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the log contains `text` (true), or `timeout` passes (false). Looks every `poll`.
    public func waitForLog(_ text: String, timeout: Duration = .seconds(60), poll: Duration = .milliseconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if log.contains(text) { return true }
            if !isAlive { return log.contains(text) }
            try? await Task.sleep(for: poll)
        }
        return log.contains(text)  // a last look: the test process itself may have stalled past the deadline
    }

    /// The port of the admin endpoint (`--admin 127.0.0.1:PORT`) from its "admin endpoint listening on" log
    /// line; nil when the worker did not log one within `timeout`.
    public func adminPort(timeout: Duration = .seconds(60), poll: Duration = .milliseconds(10)) async -> Int? {
        let marker = "admin endpoint listening on "
        guard await waitForLog(marker, timeout: timeout, poll: poll) else { return nil }
        guard let line = log.split(separator: "\n").first(where: { $0.contains(marker) }),
              let address = line.split(separator: " ").first(where: { $0.hasPrefix("127.0.0.1:") }) else { return nil }
        return Int(address.dropFirst("127.0.0.1:".count).prefix { $0.isNumber })
    }

    /// Waits for the process to end; returns its exit status (or the signal that killed it, as `signal`), and
    /// nil when it is still running after `timeout` (the process is then killed). Looks every `poll`.
    public func waitForExit(timeout: Duration = .seconds(30), poll: Duration = .milliseconds(5)) async -> Exit? {
        guard let ending = await process.waitForExit(timeout: timeout, poll: poll) else {
            // Said on the test's output before the kill, whatever the test's own message: where it was.
            print("worker pid \(pid) not seen ending within \(timeout): \(await diagnosis())\nits log ends: \(log.suffix(1000))")
            process.killGroup()
            _ = await process.waitForExit(timeout: .seconds(10), poll: poll)
            return nil
        }
        switch ending {
        case .exited(let status): return Exit(status: status, signal: nil, at: ContinuousClock.now)
        case .signaled(let signal): return Exit(status: nil, signal: signal, at: ContinuousClock.now)
        }
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
