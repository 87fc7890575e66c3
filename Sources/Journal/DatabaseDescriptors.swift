import WorkerStore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Read-only descriptors of database files that this process keeps open until it exits.
///
/// Closing any descriptor of a file drops every classic POSIX lock the process holds on it: also the locks
/// SQLite's connections hold (SQLite coordinates its own descriptors, not ours). In WAL mode that shared lock
/// is what keeps another process's closing connection from checkpointing and deleting the WAL under a live one.
/// So the worker's own looks at a database file (its header, the worker locks) go through descriptors that are
/// never closed: one per file to read, and the ones that carry liveness locks, each reused once its lock is
/// given back. A process that opens one database holds two or three more descriptors; a test process, a few per
/// database it made.
enum DatabaseDescriptors {
    private struct Kept {
        var readers: [DatabaseFile.Identity: Int32] = [:]
        var idleHolders: [DatabaseFile.Identity: [Int32]] = [:]
    }

    private static let kept = Mutex(Kept())

    /// The descriptor to read the file at `path` through, and the file's identity. Throws `errno` of `open(2)`.
    static func reader(for path: String) throws(OpenError) -> (fd: Int32, identity: DatabaseFile.Identity) {
        if let identity = DatabaseFile.identity(path), let fd = kept.withLock({ $0.readers[identity] }), isLinked(fd) {
            return (fd, identity)
        }
        let (fd, identity) = try open(path)
        return kept.withLock { kept in
            // When another thread kept one meanwhile, this one stays open unused (closing it is what we avoid).
            if let existing = kept.readers[identity], isLinked(existing) { return (existing, identity) }
            kept.readers[identity] = fd
            return (fd, identity)
        }
    }

    /// A descriptor of its own (its own open file description) for a liveness lock on the file at `path`.
    static func holder(for path: String) throws(OpenError) -> (fd: Int32, identity: DatabaseFile.Identity) {
        if let identity = DatabaseFile.identity(path),
           let fd = kept.withLock({ $0.idleHolders[identity]?.popLast() }), isLinked(fd) {
            return (fd, identity)
        }
        return try open(path)
    }

    /// Whether the file of `fd` still has a name: a deleted file's inode number can come back for a new file.
    private static func isLinked(_ fd: Int32) -> Bool {
        var info = stat()
        return fstat(fd, &info) == 0 && info.st_nlink > 0
    }

    /// Takes back a holder whose lock was given back, for the next lock on the same file.
    static func giveBack(holder fd: Int32, identity: DatabaseFile.Identity) {
        kept.withLock { $0.idleHolders[identity, default: []].append(fd) }
    }

    private static func open(_ path: String) throws(OpenError) -> (fd: Int32, identity: DatabaseFile.Identity) {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw OpenError(code: errno) }
        var info = stat()
        fstat(fd, &info)
        return (fd, DatabaseFile.Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)))
    }
}

/// `open(2)` failed with `code` (an errno value).
struct OpenError: Error {
    let code: Int32
    var reason: String { String(cString: strerror(code)) }
}
