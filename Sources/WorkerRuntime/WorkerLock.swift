import Foundation

/// A lock file per worker, held with `flock` for the life of the process: the kernel releases it when the
/// process dies, however it dies, so a peer knows for certain — without timeouts — that a worker is gone.
public final class WorkerLock: Sendable {
    /// The lock file.
    public let path: String
    private let descriptor: Int32

    /// The directory of lock files for the database at `databasePath`: `<database>-workers/`.
    public static func directory(for databasePath: String) -> String { databasePath + "-workers" }

    /// Creates and locks `<directory>/<worker>.lock`. Fails if it cannot be created or is already locked.
    public init(directory: String, worker: String) throws {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw WorkerError(.io, "cannot create the worker lock directory \(directory): \(String(cString: strerror(errno)))")
        }
        path = "\(directory)/\(worker).lock"
        // O_CLOEXEC: a child process must not inherit the lock and keep it alive after this worker dies.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw WorkerError(.io, "cannot create the worker lock \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw WorkerError(.internalError, "worker lock \(path) is already held")
        }
        descriptor = fd
    }

    /// Releases the lock and removes the file (at a clean exit).
    public func release() {
        unlink(path)
        close(descriptor)
    }

    /// Whether the worker owning `<directory>/<worker>.lock` is dead: its lock can be taken (or it has none).
    /// Never waits.
    public static func isDead(directory: String, worker: String) -> Bool {
        let path = "\(directory)/\(worker).lock"
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return true }  // a live worker creates its lock before it registers
        defer { close(fd) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return false }
        flock(fd, LOCK_UN)
        return true
    }

    /// Removes a dead worker's lock file.
    public static func remove(directory: String, worker: String) {
        unlink("\(directory)/\(worker).lock")
    }
}
