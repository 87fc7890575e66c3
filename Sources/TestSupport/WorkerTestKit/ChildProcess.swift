import SystemPackage
import Foundation
import Subprocess
import Synchronization

/// A child process of a test, the bench or the chaos runner: the one way they start processes. It goes through
/// swift-subprocess, which waits for the child's end on a pidfd and reaps it itself (Foundation's `Process` read
/// its termination state while still counting the child as running, and crashed the whole test run with
/// SIGILL; it also missed children's ends now and then). Standard input comes from a file or /dev/null, output
/// goes to files (no pipe to drain, and a grandchild that keeps them open holds nothing up). The child starts
/// with no blocked signals, default handlers and only descriptors 0-2 open; with `ownGroup`, in a process group
/// of its own, so that `killGroup()` also ends what it started (a hung swift-backtrace a crash left behind).
public final class ChildProcess: Sendable {
    /// How a process ended.
    public enum Ending: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    /// The pid.
    public let pid: Int32
    /// When it was started.
    public let started: ContinuousClock.Instant
    /// Whether it leads a process group of its own.
    public let ownGroup: Bool
    private let ending: EndingBox

    /// What every process a test starts gets on top of the test's environment: no `WORKER_DB` (a test names its
    /// database), and no Swift crash report (`SWIFT_BACKTRACE=enable=no`): a crash then ends the process at once
    /// with its signal, where the report took over 10 s on a loaded machine (and now and then hung). The crash
    /// report's own path is tested by `CrashReportTests`, which asks for it.
    public static let testEnvironment: [String: String?] = ["WORKER_DB": nil, "SWIFT_BACKTRACE": "enable=no"]

    /// Starts `executable` with `arguments`. `environment` changes the inherited environment (nil removes a
    /// variable); `stdin` is a file to read (default /dev/null); standard output goes to `stdout` (created or
    /// truncated), standard error to `stderr`, or to `stdout` too when nil. With `ownGroup` it leads a new
    /// process group.
    public static func start(
        _ executable: String, _ arguments: [String], environment: [String: String?] = [:], stdin: String? = nil,
        stdout: String, stderr: String? = nil, currentDirectory: String? = nil, ownGroup: Bool = false
    ) async throws -> ChildProcess {
        var overrides: [Environment.Key: String?] = [:]
        for (key, value) in environment {
            guard let key = Environment.Key(rawValue: key) else { throw Failure("not an environment variable name: \(key)") }
            overrides[key] = value
        }
        let input = try open(stdin ?? "/dev/null", O_RDONLY)
        let output: Int32, errorOutput: Int32?
        do {
            output = try open(stdout, O_WRONLY | O_CREAT | O_TRUNC)
            do {
                errorOutput = try stderr.map { try open($0, O_WRONLY | O_CREAT | O_TRUNC) }
            } catch {
                close(output)
                throw error
            }
        } catch {
            close(input)
            throw error
        }
        var options = PlatformOptions()
        if ownGroup { options.processGroupID = 0 }
        let configuration = Configuration(
            executable: .path(.init(executable)), arguments: .init(arguments), environment: .inherit.updating(overrides),
            workingDirectory: currentDirectory.map { .init($0) }, platformOptions: options)
        let box = EndingBox()
        let (pids, pidSink) = AsyncThrowingStream<Int32, any Error>.makeStream()
        let run: @Sendable () async throws -> TerminationStatus = {
            if let errorOutput {
                return try await Subprocess.run(
                    configuration, input: .fileDescriptor(.init(rawValue: input), closeAfterSpawningProcess: true),
                    output: .fileDescriptor(.init(rawValue: output), closeAfterSpawningProcess: true),
                    error: .fileDescriptor(.init(rawValue: errorOutput), closeAfterSpawningProcess: true)
                ) { execution in _ = pidSink.yield(execution.processIdentifier.value) }.terminationStatus
            }
            return try await Subprocess.run(
                configuration, input: .fileDescriptor(.init(rawValue: input), closeAfterSpawningProcess: true),
                output: .fileDescriptor(.init(rawValue: output), closeAfterSpawningProcess: true), error: .combinedWithOutput
            ) { execution in _ = pidSink.yield(execution.processIdentifier.value) }.terminationStatus
        }
        // `run` returns once the child ended and was reaped; the task records how, for every later look.
        Task {
            do {
                let status = try await run()
                switch status {
                case .exited(let code): box.set(.exited(code))
                case .signaled(let signal): box.set(.signaled(signal))
                }
                pidSink.finish()
            } catch {
                box.monitorFailed(error)
                pidSink.finish(throwing: error)
            }
        }
        var iterator = pids.makeAsyncIterator()
        guard let pid = try await iterator.next() else { throw Failure("\(executable) did not start") }
        return ChildProcess(pid: pid, ownGroup: ownGroup, ending: box)
    }

    private init(pid: Int32, ownGroup: Bool, ending: EndingBox) {
        self.pid = pid
        self.ownGroup = ownGroup
        self.ending = ending
        started = ContinuousClock.now
    }

    /// A child its caller left running (it failed before stopping it) does not outlive it.
    deinit {
        if ending.value == nil { killGroup() }
    }

    /// How it ended; nil while it runs.
    public var ended: Ending? { ending.value }

    /// Whether it still runs.
    public var isAlive: Bool { ending.value == nil }

    /// The exit status, or the number of the signal that killed it; nil while it runs.
    public var status: Int32? {
        switch ending.value {
        case .exited(let code): code
        case .signaled(let signal): signal
        case nil: nil
        }
    }

    /// What the kernel says of a child that has not been seen ending, for a failure message: its state in /proc
    /// (`Z` is a zombie: it ended but was not reaped, so the watch missed it) and the watch's error, if it failed.
    public var diagnosis: String {
        let state = kernelState ?? "no /proc entry"
        let wchan = (try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)).map { ", waiting in \($0)" } ?? ""
        return "pid \(pid) \(state)\(wchan)" + (ending.monitorError.map { "; the watch for its end failed: \($0)" } ?? "")
    }

    /// Each thread's innermost frames (function names only), read with gdb when it is installed and the child is
    /// alive and not a zombie: for the failure message of a child that did not end when it should have.
    public func stacks() async -> String {
        let gdb = "/usr/bin/gdb"
        guard ending.value == nil, FileManager.default.isExecutableFile(atPath: gdb) else { return "" }
        guard kernelState?.hasPrefix("State:\tZ") != true else { return "" }
        guard let result = try? await runProcess("/usr/bin/timeout", ["30", gdb, "-p", "\(pid)", "-batch", "-nx", "-ex", "thread apply all bt 10"])
        else { return "" }
        var threads: [String] = []
        for line in result.stdout.split(separator: "\n") {
            if line.hasPrefix("Thread ") {
                threads.append(String(line.prefix(60)))
            } else if line.hasPrefix("#"), !threads.isEmpty {
                let words = line.split(separator: " ")
                let name = words.firstIndex(of: "in").map { String(words[$0 + 1]) } ?? String(words.dropFirst().first ?? "")
                threads[threads.count - 1] += " < " + String(name.prefix(80))
            }
        }
        return threads.isEmpty ? "gdb: \(result.stderr.prefix(300))" : "threads of pid \(pid):\n" + threads.joined(separator: "\n")
    }

    /// Sends `signal` (nothing once it ended: its pid may be another process's by then).
    public func signal(_ signal: Int32) {
        if ending.value == nil { kill(pid, signal) }
    }

    /// SIGKILL for it and, when it leads its own group, everything in the group (nothing once it ended).
    public func killGroup() {
        if ending.value == nil { kill(ownGroup ? -pid : pid, SIGKILL) }
    }

    /// Waits for the end without holding a thread; looks every `poll`. Nil when it still runs after `timeout`.
    ///
    /// A child that ended within `timeout` counts even when the watch has not reported its status yet: the watch
    /// is a task of this process's cooperative pool, and under heavy load it has been seen to report a child's end
    /// tens of seconds late (the child was gone from /proc at the deadline). Such a child is waited for up to 30 s
    /// more, and the wait says so on the output.
    public func waitForExit(timeout: Duration = .seconds(60), poll: Duration = .milliseconds(5)) async -> Ending? {
        let deadline = ContinuousClock.now + timeout
        while ending.value == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: poll)
        }
        guard ending.value == nil, hasEnded else { return ending.value }
        print("pid \(pid) ended within \(timeout) but its status is not reported yet; waiting for it")
        let late = ContinuousClock.now + .seconds(30)
        while ending.value == nil, ContinuousClock.now < late {
            try? await Task.sleep(for: poll)
        }
        return ending.value
    }

    /// Whether the kernel says the child has ended: gone from /proc (reaped: only the watch reaps it) or a zombie.
    private var hasEnded: Bool {
        kernelState?.hasPrefix("State:\tZ") ?? true
    }

    /// The `State:` line of /proc/PID/status (`Z` is a zombie), or nil when the pid has no entry.
    private var kernelState: String? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return status.split(separator: "\n").first { $0.hasPrefix("State:") }.map(String.init) ?? ""
    }

    /// Waits for the end however long it takes.
    public func waitUntilExit() async -> Ending {
        while true {
            if let ended = ending.value { return ended }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    private static func open(_ path: String, _ flags: Int32) throws -> Int32 {
        let descriptor = Foundation.open(path, flags | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Failure("cannot open \(path): \(String(cString: strerror(errno)))") }
        return descriptor
    }

    /// A child that could not be started.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

/// How a child ended, written once by the task that waits for it.
private final class EndingBox: Sendable {
    private let state = Mutex<ChildProcess.Ending?>(nil)
    private let failure = Mutex<String?>(nil)
    var value: ChildProcess.Ending? { state.withLock { $0 } }
    var monitorError: String? { failure.withLock { $0 } }
    func set(_ ending: ChildProcess.Ending) { state.withLock { $0 = ending } }
    func monitorFailed(_ error: any Error) { failure.withLock { $0 = String(describing: error) } }
}
