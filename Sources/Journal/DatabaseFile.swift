import WorkerStore
import Foundation

/// Checks on the database file made before SQLite touches it, so a wrong path is refused without side effects.
enum DatabaseFile {
    static let sqliteHeader = Array("SQLite format 3\0".utf8)

    /// A file's device and inode.
    struct Identity: Hashable, Sendable {
        let device: UInt64
        let inode: UInt64
    }

    /// The identity of the file at `path` now (following symlinks); nil when there is none.
    static func identity(_ path: String) -> Identity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Creates the file with mode 0600 when missing; refuses a missing directory and a non-SQLite file.
    static func prepare(_ path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let dir = directory.isEmpty ? "." : directory
        var info = stat()
        if stat(dir, &info) != 0 || (info.st_mode & S_IFMT) != S_IFDIR {
            throw JournalError(
                .databaseMissing,
                "database directory \(dir) does not exist: create it, or point --db (or WORKER_DB) at a file in an existing directory")
        }
        if lstat(path, &info) == 0 {
            try checkExisting(path, info: info)
            return
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            close(fd)
            return
        }
        let code = errno
        if code == EEXIST { return }  // another process created it first
        if code == EACCES || code == EROFS || code == EPERM {
            throw JournalError(
                .readOnly,
                "cannot create database \(path): directory \(dir) is not writable (\(String(cString: strerror(code)))); fix its permissions or use another --db path")
        }
        throw JournalError(.io, "cannot create database \(path): \(String(cString: strerror(code)))")
    }

    private static func checkExisting(_ path: String, info linkInfo: stat) throws {
        var info = linkInfo
        // A symlink is followed: what counts is the file it names (a dangling one is refused below).
        if linkInfo.st_mode & S_IFMT == S_IFLNK && stat(path, &info) != 0 {
            throw JournalError(.databaseMissing, "database \(path) is a symlink to a missing file: fix the link or point --db at the file itself")
        }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR {
            throw JournalError(.notADatabase, "\(path) is a directory, not a database file: pass --db DIRECTORY/worker.sqlite3")
        }
        // SQLite would open a device or a pipe and create its journal files beside it (`/dev/null-journal`).
        guard kind == S_IFREG else {
            throw JournalError(
                .notADatabase,
                "\(path) is a \(kindName(kind)), not a database file: point --db at a regular file (a new one is created); nothing was written")
        }
        guard info.st_size > 0 else { return }  // an empty file is an empty SQLite database
        let fd: Int32
        do {
            fd = try DatabaseDescriptors.reader(for: path).fd  // never closed: see DatabaseDescriptors
        } catch {
            if error.code == EACCES {
                throw JournalError(.readOnly, "cannot read database \(path): permission denied; fix its permissions or use another --db path")
            }
            throw JournalError(.io, "cannot open database \(path): \(error.reason)")
        }
        var header = [UInt8](repeating: 0, count: sqliteHeader.count)
        let count = pread(fd, &header, header.count, 0)
        if count != header.count || header != sqliteHeader {
            throw JournalError(
                .notADatabase,
                "\(path) is not a SQLite database (wrong file header): point --db at a worker database or move the file away; it was left untouched")
        }
    }

    private static func kindName(_ kind: mode_t) -> String {
        switch kind {
        case S_IFCHR: "character device"
        case S_IFBLK: "block device"
        case S_IFIFO: "named pipe"
        case S_IFSOCK: "socket"
        default: "special file"
        }
    }
}
