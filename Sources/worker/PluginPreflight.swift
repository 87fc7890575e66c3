import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Loading a plugin runs its code (its initialisers, then its `create`): one that crashes there would take the
/// worker down before it could say which plugin it was, and a supervisor would restart it into the same crash.
/// So `run` and `resume` first load each plugin in a child process (`worker plugins check FILE`): if the child
/// dies of a signal, the worker names the plugin and exits 78 before it registers or touches a job. Any other
/// problem is left to the loading that follows, which reports it in full. Costs one short process per plugin.
enum PluginPreflight {
    static func check(_ files: [String]) throws {
        for file in files {
            if let signal = try crashSignal(loading: file) {
                let name = String(cString: strsignal(signal))
                throw CLIError(
                    .config,
                    "plugin \(file) crashed while loading (signal \(signal), \(name), in its initialisers or create()): fix it or leave it out; no job was touched")
            }
        }
    }

    /// The signal that killed a child loading `file`, or nil when the child exited.
    private static func crashSignal(loading file: String) throws -> Int32? {
        let executable = "/proc/self/exe"
        let arguments = [executable, "plugins", "check", file]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0)
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = nil  // the child must not speak to systemd for the worker
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw CLIError(.software, "cannot start a process to check plugin \(file): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { return nil }
        }
        // Only the signals of a crash: a TERM sent to the whole process group meanwhile is not the plugin's fault.
        let signal = status & 0x7F
        return [SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGTRAP, SIGSYS].contains(signal) ? signal : nil
    }
}
