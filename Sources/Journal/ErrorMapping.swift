import Foundation
import WorkerStore
import GRDB

extension JournalError {
    /// Keeps a journal error as it is; translates anything else with `init(mapping:path:)`.
    init(mappingAny error: any Error, path: String) {
        if let journal = error as? JournalError {
            self = journal
        } else {
            self.init(mapping: error, path: path)
        }
    }

    /// Translates an SQLite error into a journal error whose message names the database and the fix.
    init(mapping error: any Error, path: String) {
        if let decoding = error as? RowDecodingError {
            // Keep "could not decode X from database value V - column: C, column index: N"; drop the row and SQL dump.
            let full = "\(decoding)"
            let what = full.components(separatedBy: ", row:").first ?? full
            self.init(
                .corrupt,
                "database \(path) holds a value this worker cannot read (\(what.split(whereSeparator: \.isNewline).joined(separator: " "))): a program wrote it outside the documented schema; fix or delete that row")
            return
        }
        guard let sqlite = error as? DatabaseError else {
            self.init(.internalError, "unexpected error on database \(path): \(error)")
            return
        }
        let detail = sqlite.message ?? "\(sqlite.resultCode)"
        switch sqlite.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            self.init(
                .busy,
                "database \(path) stayed locked by another process past the busy timeout: retry, or raise --busy-timeout")
        case .SQLITE_READONLY:
            self.init(
                .readOnly,
                "cannot write database \(path): it or its directory is read-only (\(detail)); fix the permissions or use another --db path")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            self.init(
                .readOnly,
                "cannot open database \(path) for writing (\(detail)); check the permissions of the file and its directory")
        case .SQLITE_NOTADB:
            self.init(
                .notADatabase,
                "\(path) is not a SQLite database: point --db at a worker database or move the file away; it was left untouched")
        case .SQLITE_CORRUPT:
            self.init(
                .corrupt,
                "database \(path) is corrupt (\(detail)): restore it from a backup, or salvage its rows with sqlite3's .recover")
        case .SQLITE_FULL:
            self.init(
                .diskFull,
                "disk full writing database \(path): free space on its filesystem and retry; this command's changes were rolled back")
        case .SQLITE_ERROR where detail.hasPrefix("no such table") || detail.hasPrefix("no such column"):
            self.init(
                .corrupt,
                "database \(path) lacks part of the journal's schema (\(detail)): it was changed outside the worker; run `worker journal verify` and restore it from a backup")
        case .SQLITE_IOERR:
            self.init(.io, "I/O error on database \(path) (\(detail)): check the disk and the file, then retry")
        default:
            self.init(.internalError, "database \(path): \(detail) (\(sqlite.resultCode))")
        }
    }
}
