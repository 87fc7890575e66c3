import Foundation

/// A test-only switch that kills the process at a named point, to prove what survives a crash there.
///
/// `WORKER_CRASH_AT=NAME` (optionally `NAME@N` for the N-th time that point is reached) makes the process send
/// itself SIGKILL when it reaches `NAME`. Points: `after-claim` (claimed jobs committed, none started),
/// `before-commit` (handlers returned, their outcomes not yet committed), `drain-finalize` (a drain's outcomes
/// about to be committed), and `commit:LABEL` inside every journal write transaction, after its writes and before
/// its commit: `enqueue`, `exchange` (the worker loop's finish-and-claim), `claim`, `finish`, `checkpoint`,
/// `step-begin`, `step-commit`, `recover`, and for the
/// others the name of the function that writes (`register(_:)`, `heartbeat(worker:)`, `retry(job:)`, ...), so
/// a new write point can be crashed at without further work. Unset in production: one environment read.
public enum FaultInjection {
    private static let target: (name: String, count: Int)? = {
        guard let value = ProcessInfo.processInfo.environment["WORKER_CRASH_AT"], !value.isEmpty else { return nil }
        let parts = value.split(separator: "@", maxSplits: 1)
        return (String(parts[0]), parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }()
    private static let hits = Counter()

    /// Kills the process with SIGKILL if `WORKER_CRASH_AT` names this point (and this is the N-th visit).
    public static func point(_ name: String) {
        guard let target, target.name == name else { return }
        if hits.increment() >= target.count {
            kill(getpid(), SIGKILL)
        }
    }

    final class Counter: @unchecked Sendable {  // guarded by its lock
        private var value = 0
        private let lock = NSLock()

        func increment() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }
}
