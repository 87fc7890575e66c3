import Foundation

/// A test-only switch that kills the process at a named point, to prove what survives a crash there.
///
/// `WORKER_CRASH_AT=NAME` (optionally `NAME@N` for the N-th time that point is reached) makes the process send
/// itself SIGKILL when it reaches `NAME`. Points: `after-claim` (claimed jobs committed, none started),
/// `before-commit` (handlers returned, their outcomes not yet committed), `drain-finalize` (a drain's outcomes
/// about to be committed), and `commit:LABEL` inside every journal write transaction, after its writes and before
/// its commit, named by the label every journal write must give (`enqueue`, `exchange` (the worker loop's
/// finish-and-claim), `claim`, `finish`, `finish-one`, `checkpoint`, `step-begin`, `step-commit`, `recover`,
/// `register`, `heartbeat`, `deregister`, `retry`, `cancel`, `prune`). `CrashPointTests` finds the labels in the
/// sources and crashes at each, so a new write point is covered without being listed anywhere.
///
/// `WORKER_CRASH_ONCE=FILE` makes only the first process to get there crash, of all that share FILE: it is
/// created (exclusively) just before the kill, and a process that finds it there goes on.
///
/// `WORKER_FAULT_LOG=FILE` appends the name of every point the process reaches (once each) to FILE: the tests use
/// it to prove their workload reaches every point. Both unset in production: two environment reads.
public enum FaultInjection {
    private static let target: (name: String, count: Int)? = {
        guard let value = ProcessInfo.processInfo.environment["WORKER_CRASH_AT"], !value.isEmpty else { return nil }
        let parts = value.split(separator: "@", maxSplits: 1)
        return (String(parts[0]), parts.count > 1 ? Int(parts[1]) ?? 1 : 1)
    }()
    private static let hits = Counter()
    private static let log: Reached? = {
        guard let path = ProcessInfo.processInfo.environment["WORKER_FAULT_LOG"], !path.isEmpty else { return nil }
        return Reached(path: path)
    }()

    /// Kills the process with SIGKILL if `WORKER_CRASH_AT` names this point (and this is the N-th visit).
    public static func point(_ name: String) {
        log?.reached(name)
        guard let target, target.name == name else { return }
        if hits.increment() >= target.count {
            if let once = ProcessInfo.processInfo.environment["WORKER_CRASH_ONCE"], !once.isEmpty {
                let fd = open(once, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else { return }  // another process crashed here already
                close(fd)
            }
            kill(getpid(), SIGKILL)
        }
    }

    /// The points reached, appended to a file once each.
    final class Reached: @unchecked Sendable {  // guarded by its lock
        private let path: String
        private var seen: Set<String> = []
        private let lock = NSLock()

        init(path: String) {
            self.path = path
        }

        func reached(_ name: String) {
            lock.lock()
            defer { lock.unlock() }
            guard seen.insert(name).inserted else { return }
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            let line = Array((name + "\n").utf8)
            _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }  // O_APPEND: one write, whole lines
            close(fd)
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
