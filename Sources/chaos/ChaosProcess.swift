import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `worker run` started with posix_spawn and reaped with waitpid, not Foundation's `Process`: over hundreds of
/// starts and kills, `Process` missed a child's end now and then (a zombie it never reaped) and once crashed the
/// runner inside its termination monitoring (CFSocketInvalidate). The child starts with no blocked signals and
/// default handlers, as a supervisor would start it.
final class ChaosProcess {
    let pid: pid_t
    let logPath: String
    let started = ContinuousClock.now
    private(set) var exitStatus: Int32?

    init(_ arguments: [String], logPath: String, environment extra: [String: String]) throws {
        self.logPath = logPath
        let executable = ChaosPaths.worker
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var environment = ProcessInfo.processInfo.environment
        environment["WORKER_DB"] = nil
        for (key, value) in extra { environment[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw ChaosError("cannot start \(executable): \(String(cString: strerror(result)))") }
        self.pid = pid
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            _ = reap(blocking: true)
        }
    }

    /// Sends a signal (nothing once it exited).
    func signal(_ signal: Int32) {
        if exitStatus == nil { kill(pid, signal) }
    }

    /// Whether it still runs (reaps it when it ended).
    var isAlive: Bool { reap(blocking: false) == nil }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the log contains `text` (true) or the process ended or `timeout` passed (false).
    func waitForLog(_ text: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if log.contains(text) { return true }
            if !isAlive { return log.contains(text) }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return log.contains(text)
    }

    /// Waits for the end; the wait status, or nil after `timeout` (then it is killed and reaped).
    @discardableResult
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = reap(blocking: false) { return status }
            try? await Task.sleep(for: .milliseconds(2))
        }
        kill(pid, SIGKILL)
        _ = reap(blocking: true)
        return nil
    }

    private func reap(blocking: Bool) -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
        guard result == pid else { return nil }
        exitStatus = status
        return status
    }
}

struct ChaosError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The binaries next to the runner.
enum ChaosPaths {
    static var directory: String {
        ProcessInfo.processInfo.environment["WORKER_BUILD_DIR"]
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
    }
    static var worker: String { "\(directory)/worker" }
    static var examples: String { "\(directory)/libExamplePlugins.so" }
}
