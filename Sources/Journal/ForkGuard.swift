import WorkerStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Closes the descriptors that carry liveness locks in every child made by `fork()`.
///
/// `O_CLOEXEC` covers a child that calls `exec`; a plugin's handler that forks without `exec` would otherwise
/// share the lock's open file description, and the lock would outlive the worker for as long as the child runs,
/// leaving the dead worker's jobs `running`. The child's copy is closed by a `pthread_atfork` handler; the
/// parent's lock is untouched (it is released only when every descriptor of the description is closed).
enum ForkGuard {
    /// How many descriptors can be guarded at once: one per journal that registered a worker in this process.
    private static let capacity = 64

    /// The guarded descriptors, -1 where free. The forked child reads them without a lock: it runs on one thread,
    /// and a lock held by a parent's thread at the fork would never be released there.
    private nonisolated(unsafe) static let slots: UnsafeMutablePointer<Int32> = {
        let slots = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        slots.initialize(repeating: -1, count: capacity)
        return slots
    }()
    private static let writers = Mutex<Void>(())

    private static let installed: Void = {
        pthread_atfork(nil, nil, { ForkGuard.closeAll() })
    }()

    /// Closes `fd` in every child forked from now on.
    static func closeInForkedChildren(_ fd: Int32) {
        _ = installed
        writers.withLock { _ in
            for index in 0..<capacity where slots[index] == fd { return }
            for index in 0..<capacity where slots[index] == -1 {
                slots[index] = fd
                return
            }
        }
    }

    /// Stops guarding `fd` (before it is closed).
    static func forget(_ fd: Int32) {
        writers.withLock { _ in
            for index in 0..<capacity where slots[index] == fd { slots[index] = -1 }
        }
    }

    private static func closeAll() {
        for index in 0..<capacity where slots[index] >= 0 {
            close(slots[index])
            slots[index] = -1
        }
    }
}
