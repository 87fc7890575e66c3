import Foundation
import Synchronization

/// Watches what a plugin's code does to the process while it loads (its initialisers at `dlopen`, then `create`):
///
/// - `exit()` called meanwhile (by any thread) does not end the worker with the plugin's status: an `on_exit`
///   handler, registered before any plugin loads and so run before the plugin's own, hands the refusal to
///   `exitHandler` and ends the process with 78 (configuration). `_exit` and crashes are caught by the preflight
///   child (docs/plugins.md).
/// - The worker's signal handling must survive the plugin: the dispositions of the signals it handles and the
///   loading thread's signal mask are compared before and after, and a plugin that changed them is refused (they
///   are put back first).
enum PluginLoadGuard {
    /// The signals the worker handles; a plugin may not change how any of them is handled.
    static let signals: [Int32] = [SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGTSTP]

    /// The plugin being loaded, if one is.
    private static let current = Mutex<String?>(nil)
    private static let registered: Bool = {
        on_exit({ status, _ in PluginLoadGuard.exitedWhileLoading(status) }, nil)
        return true
    }()
    /// Receives the refusal of a plugin that called `exit()` while loading; the process then ends with 78.
    private static let exitHandler = Mutex<@Sendable (PluginError) -> Void>({ error in
        _ = "\(error)\n".withCString { write(STDERR_FILENO, $0, strlen($0)) }
    })

    /// Sets what to do with the refusal of a plugin that calls `exit()` while loading (print it, say), before the
    /// process ends with 78. Called from the exit path: keep it short.
    static func onExitWhileLoading(_ handler: @escaping @Sendable (PluginError) -> Void) {
        exitHandler.withLock { $0 = handler }
    }

    /// Runs `body` (a step of loading `path` that runs the plugin's code), then refuses the plugin if it changed
    /// the worker's signal handling.
    static func loading<T>(_ path: String, _ body: () throws -> T) throws -> T {
        _ = registered
        let before = SignalState.current(signals, withMask: true)
        current.withLock { $0 = path }
        defer { current.withLock { $0 = nil } }
        let result = try body()
        let after = SignalState.current(signals, withMask: true)
        if let change = before.change(to: after) {
            before.restore()
            throw PluginError(
                path: path,
                reason: "it changed \(change) while loading (in its initialisers or create()): the worker's drain on TERM depends on its own signal handling; remove that code from the plugin")
        }
        return result
    }

    private static func exitedWhileLoading(_ status: Int32) {
        guard let path = current.withLock({ $0 }) else { return }
        let handler = exitHandler.withLock { $0 }
        handler(PluginError(
            path: path, reason: "it called exit(\(status)) while loading (in its initialisers or create()): fix it or leave it out"))
        _exit(78)
    }
}

/// The dispositions of the signals the worker handles and, optionally, the calling thread's signal mask: to
/// compare before and after a plugin's code ran, and to put back.
public struct SignalState: @unchecked Sendable {  // plain C structs, copied by value
    let actions: [(signal: Int32, action: sigaction)]
    let mask: sigset_t?

    /// The dispositions of the signals the worker handles now (TERM, INT, QUIT, USR1, TSTP), with the calling
    /// thread's mask when `withMask` (meaningful only when compared on the same thread).
    public static func current(withMask: Bool = false) -> SignalState {
        current(PluginLoadGuard.signals, withMask: withMask)
    }

    static func current(_ signals: [Int32], withMask: Bool) -> SignalState {
        var mask = sigset_t()
        if withMask { pthread_sigmask(SIG_SETMASK, nil, &mask) }
        return SignalState(actions: signals.map { signal in
            var action = sigaction()
            sigaction(signal, nil, &action)
            return (signal, action)
        }, mask: withMask ? mask : nil)
    }

    /// What differs in `other`, in words (`the handling of SIGTERM`), or nil when nothing the worker relies on does.
    public func change(to other: SignalState) -> String? {
        for (mine, theirs) in zip(actions, other.actions) where !Self.same(mine.action, theirs.action) {
            return "the handling of \(Self.name(mine.signal))"
        }
        guard var mask = self.mask, var otherMask = other.mask else { return nil }
        for (signal, _) in actions where sigismember(&mask, signal) != sigismember(&otherMask, signal) {
            return "the signal mask (\(Self.name(signal)) \(sigismember(&otherMask, signal) == 1 ? "blocked" : "unblocked"))"
        }
        return nil
    }

    /// Puts these dispositions (and this mask, if taken) back.
    public func restore() {
        for (signal, action) in actions {
            var action = action
            sigaction(signal, &action, nil)
        }
        if var mask { pthread_sigmask(SIG_SETMASK, &mask, nil) }
    }

    /// The handler and the flags that matter; the mask a handler runs with is the handler's own business.
    static func same(_ one: sigaction, _ other: sigaction) -> Bool {
        let flags = [Int(SA_SIGINFO), Int(SA_RESTART), Int(SA_RESETHAND), Int(SA_NODEFER), Int(SA_ONSTACK)]
            .reduce(Int32(0)) { $0 | Int32(truncatingIfNeeded: $1) }
        return unsafeBitCast(one.__sigaction_handler, to: Int.self) == unsafeBitCast(other.__sigaction_handler, to: Int.self)
            && one.sa_flags & flags == other.sa_flags & flags
    }

    /// `SIGTERM` and the like.
    static func name(_ signal: Int32) -> String {
        let names: [Int32: String] = [
            SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGUSR1: "SIGUSR1", SIGTSTP: "SIGTSTP",
        ]
        return names[signal] ?? "signal \(signal)"
    }
}
