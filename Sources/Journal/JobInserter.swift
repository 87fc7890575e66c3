import WorkerStore
import GRDB
#if canImport(GRDBSQLite)
import GRDBSQLite
#else
import SQLite3
#endif

/// Inserts job rows through one prepared statement, binding with SQLite's C API directly.
///
/// This is the enqueue hot path (hundreds of thousands of rows a second): bindings survive `sqlite3_reset`, so
/// columns that repeat from one job to the next are bound once. Use inside a write transaction only.
final class JobInserter {
    private let connection: OpaquePointer
    private var statement: OpaquePointer?
    private var bound: [String?] = Array(repeating: nil, count: 6)  // handler, queue, state, unique key, concurrency key, schedule
    private var boundNumbers: [Int64?] = Array(repeating: nil, count: 5)  // priority, max attempts, run_at, now, timeout

    private static let sql = """
        INSERT INTO jobs (handler, queue, state, unique_key, payload, priority, max_attempts, run_at, created_at, updated_at,
                          concurrency_key, timeout_ms, schedule)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12)
        ON CONFLICT DO NOTHING
        """

    init(_ db: Database) throws {
        guard let connection = db.sqliteConnection else {
            throw JournalError(.internalError, "the database connection is closed")
        }
        self.connection = connection
        let code = sqlite3_prepare_v3(connection, Self.sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code), message: lastMessage) }
    }

    deinit {
        sqlite3_finalize(statement)
    }

    private var lastMessage: String {
        String(cString: sqlite3_errmsg(connection))
    }

    /// Inserts one job; returns its id, or nil when an unfinished job holds its unique key.
    func insert(
        handler: String, queue: String, state: JobState, uniqueKey: String?, payload: String, priority: Int,
        maxAttempts: Int, runAt: Micros, now: Micros, concurrencyKey: String?, timeoutMilliseconds: Int64?, schedule: String?
    ) throws -> Int64? {
        try bindText(1, handler, slot: 0)
        try bindText(2, queue, slot: 1)
        try bindText(3, state.rawValue, slot: 2)
        try bindText(4, uniqueKey, slot: 3)
        try check(payload.utf8.withContiguousStorageIfAvailable { bytes in
            sqlite3_bind_text(statement, 5, bytes.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) },
                              Int32(bytes.count), Self.transient)
        } ?? payload.withCString { sqlite3_bind_text(statement, 5, $0, -1, Self.transient) })
        try bindInt(6, Int64(priority), slot: 0)
        try bindInt(7, Int64(maxAttempts), slot: 1)
        try bindInt(8, runAt, slot: 2)
        try bindInt(9, now, slot: 3)
        try bindText(10, concurrencyKey, slot: 4)
        try bindInt(11, timeoutMilliseconds, slot: 4)
        try bindText(12, schedule, slot: 5)
        let code = sqlite3_step(statement)
        let message = code == SQLITE_DONE ? nil : lastMessage
        sqlite3_reset(statement)
        guard code == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
        }
        return sqlite3_changes(connection) == 1 ? sqlite3_last_insert_rowid(connection) : nil
    }

    /// SQLite copies the bytes before the bind call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private func bindText(_ index: Int32, _ value: String?, slot: Int) throws {
        if bound[slot] == value { return }  // a parameter never bound is NULL, so nil starts out true
        bound[slot] = value
        guard let value else {
            try check(sqlite3_bind_null(statement, index))
            return
        }
        try check(value.withCString { sqlite3_bind_text(statement, index, $0, -1, Self.transient) })
    }

    private func bindInt(_ index: Int32, _ value: Int64?, slot: Int) throws {
        if boundNumbers[slot] == value { return }  // a parameter never bound is NULL, so nil starts out true
        boundNumbers[slot] = value
        guard let value else {
            try check(sqlite3_bind_null(statement, index))
            return
        }
        try check(sqlite3_bind_int64(statement, index, value))
    }

    private func check(_ code: Int32) throws {
        guard code == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: code), message: lastMessage) }
    }
}
