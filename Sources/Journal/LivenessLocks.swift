import WorkerStore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Which workers are alive, decided by the kernel: each live worker holds a lock on one byte of the database file
/// itself, far past anything SQLite locks, at an offset given by its row in `workers`. The kernel drops the lock
/// when the process dies, however it dies, so a peer knows for certain, without timeouts, that a worker is gone.
///
/// The locks are open-file-description locks (`F_OFD_SETLK`), each on a descriptor of its own, so that workers
/// registered in one process (tests do that) see each other as other processes would:
/// - they follow the file, not its name: a symlink, a hard link or a relative path reach the same locks, and
///   there is no lock file that a tmp cleaner or another user could delete, plant or swap;
/// - they do not touch SQLite's own locks (classic POSIX locks on other bytes);
/// - a child made by `fork` without `exec` would share the description and keep a dead worker "live": the
///   descriptor is `O_CLOEXEC`, and closed in every forked child (see `ForkGuard`).
final class LivenessLocks: Sendable {
    /// The first byte of the range; SQLite locks bytes around 1 GiB and never past it.
    static let base: Int64 = 1 << 40
    /// `F_OFD_GETLK` and `F_OFD_SETLK` from <fcntl.h> (Linux, every architecture), which Glibc's module does
    /// not export without `_GNU_SOURCE`.
    private static let getLock: Int32 = 36
    private static let setLock: Int32 = 37

    private let path: String
    private let identity: DatabaseFile.Identity?
    /// The descriptor of each lock held through this journal (see `DatabaseDescriptors`: none is ever closed).
    private let holders = Mutex<[Int64: (fd: Int32, identity: DatabaseFile.Identity)]>([:])

    init(path: String, identity: DatabaseFile.Identity?) {
        self.path = path
        self.identity = identity
    }

    /// A journal that goes gives its locks back (a test's, or a worker's that did not deregister).
    deinit {
        for slot in holders.withLock({ Array($0.keys) }) { release(slot: slot) }
    }

    /// Takes the lock of `slot`. Fails if another holds it.
    func hold(slot: Int64) throws {
        let holder = try descriptor(DatabaseDescriptors.holder(for:))
        var lock = Self.lock(F_RDLCK, slot)
        guard fcntl(holder.fd, Self.setLock, &lock) == 0 else {
            let code = errno
            DatabaseDescriptors.giveBack(holder: holder.fd, identity: holder.identity)
            if code == EAGAIN || code == EACCES {
                throw JournalError(.internalError, "the liveness lock of worker slot \(slot) in \(path) is held by another process")
            }
            throw JournalError(.io, "cannot lock database \(path) (\(String(cString: strerror(code)))): its filesystem must support open file description locks (a local filesystem does)")
        }
        ForkGuard.closeInForkedChildren(holder.fd)
        holders.withLock { $0[slot] = holder }
    }

    /// Gives the lock of `slot` back (at a clean exit).
    func release(slot: Int64) {
        guard let holder = holders.withLock({ $0.removeValue(forKey: slot) }) else { return }
        var lock = Self.lock(F_UNLCK, slot)
        _ = fcntl(holder.fd, Self.setLock, &lock)
        ForkGuard.forget(holder.fd)
        DatabaseDescriptors.giveBack(holder: holder.fd, identity: holder.identity)
    }

    /// Whether anyone holds the lock of `slot`: another process, or a worker registered through this journal.
    /// Never waits.
    func isHeld(slot: Int64) throws -> Bool {
        let fd = try descriptor(DatabaseDescriptors.reader(for:)).fd
        var lock = Self.lock(F_WRLCK, slot)
        guard fcntl(fd, Self.getLock, &lock) == 0 else {
            throw JournalError(.io, "cannot read the worker locks of database \(path): \(String(cString: strerror(errno)))")
        }
        return lock.l_type != F_UNLCK
    }

    private static func lock(_ type: Int32, _ slot: Int64) -> flock {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = off_t(base + slot)
        lock.l_len = 1
        lock.l_pid = 0  // required for OFD locks
        return lock
    }

    /// A descriptor of the database file from `source`; refuses a file that is no longer the one the journal
    /// opened.
    private func descriptor(
        _ source: (String) throws(OpenError) -> (fd: Int32, identity: DatabaseFile.Identity)
    ) throws -> (fd: Int32, identity: DatabaseFile.Identity) {
        let found: (fd: Int32, identity: DatabaseFile.Identity)
        do {
            found = try source(path)
        } catch {
            throw JournalError(.io, "cannot open database \(path) to read its worker locks: \(error.reason)")
        }
        if let identity, found.identity != identity {
            throw JournalError(.io, StorageFiles.Problem.database(replaced: true).message(path: path, saved: nil))
        }
        return found
    }
}
