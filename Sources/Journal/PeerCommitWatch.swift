import Dispatch
import Synchronization
import WorkerStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Wakes an idle worker the moment another process commits to the journal, instead of polling for it. Every
/// commit in WAL mode writes to the `-wal` file, so an inotify watch on that file fires on each one. The watch is
/// armed only while the worker waits idle: under load its own commits cost nothing here. Hand-written, as none
/// of the project's libraries watches files; where inotify is missing the worker polls instead.
///
/// The watch fires as the other process writes its commit, which readers see a moment later (after its fsync),
/// so a wake-up is followed by looks at growing intervals (see the runtime's `IdleWaiter`). It stays armed for as
/// long as the worker is idle; each write while armed sets `fired` and wakes the worker.
final class PeerCommitWatch: CommitWatch, @unchecked Sendable {  // a Dispatch source is thread-safe; `state` has its lock
    private let descriptor: Int32
    /// The watched file.
    let path: String
    private let wake: @Sendable () -> Void
    /// The watch while armed (inotify's watch descriptor), and whether it fired since `takeFired()`.
    private let state = Mutex<(watch: Int32?, fired: Bool)>((nil, false))
    private let source: any DispatchSourceRead

    /// A watch on `walPath` that calls `wake`; nil when inotify is not available.
    init?(walPath: String, wake: @escaping @Sendable () -> Void) {
        let descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
        self.path = walPath
        self.wake = wake
        source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: DispatchQueue(label: "worker.peer-commits"))
        source.setEventHandler { [weak self] in self?.eventsArrived() }
        source.setCancelHandler { close(descriptor) }
        source.activate()
    }

    deinit {
        source.cancel()
    }

    /// The `-wal` file SQLite keeps for the database at `path`: next to the file a symlink points to.
    static func walPath(ofDatabase path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path + "-wal" }
        defer { free(resolved) }
        return String(cString: resolved) + "-wal"
    }

    /// Starts watching, unless it already does; false when the file cannot be watched (the caller then polls).
    public var description: String { path }

    public func arm() -> Bool {
        state.withLock { state in
            if state.watch != nil { return true }
            let added = inotify_add_watch(descriptor, path, UInt32(IN_MODIFY))
            guard added >= 0 else { return false }
            state.watch = added
            return true
        }
    }

    /// Stops watching (the worker is busy or stopping).
    public func disarm() {
        state.withLock { state in
            if let armed = state.watch { inotify_rm_watch(descriptor, armed) }
            state.watch = nil
        }
    }

    /// Whether the watch fired since the last call: a commit was being written (another process's, or this
    /// worker's own heartbeat).
    public func takeFired() -> Bool {
        state.withLock { state in
            defer { state.fired = false }
            return state.fired
        }
    }

    private func eventsArrived() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while read(descriptor, &buffer, buffer.count) > 0 {}  // drained: one wake-up stands for all of them
        // Only while armed: an event read after `disarm` (a write just before it, or the removal itself) is old.
        let armed = state.withLock { state in
            guard state.watch != nil else { return false }
            state.fired = true
            return true
        }
        if armed { wake() }
    }
}
