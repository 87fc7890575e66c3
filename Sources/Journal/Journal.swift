import Foundation
import GRDB
import Synchronization

/// The SQLite journal: jobs, their events, workers, checkpoints and steps, in one database file.
///
/// Every state change of a job is one immediate transaction that updates the job row and appends an event.
/// The connection is only used inside GRDB's serialized closures; the journal itself is safe to share.
public final class Journal: Sendable {
    /// The database file.
    public let path: String
    /// The options it was opened with.
    public let options: JournalOptions
    let database: DatabaseQueue
    /// The file's device and inode when it was opened, to notice it being deleted or replaced under us.
    private let identity: DatabaseFile.Identity?
    private let observers = Mutex<[@Sendable () -> Void]>([])

    /// Opens (creating with mode 0600 when missing) and migrates the database at `path`.
    ///
    /// Refuses, leaving the file untouched, a file that is not a SQLite database and a database migrated by a
    /// newer binary.
    public init(path: String, options: JournalOptions = JournalOptions()) throws {
        self.path = path
        self.options = options
        try DatabaseFile.prepare(path)
        var config = Configuration()
        config.busyMode = .timeout(options.busyTimeoutSeconds)
        config.label = "worker.journal"
        let synchronous = options.synchronous.rawValue.uppercased()
        // WAL is set here rather than with GRDB's `journalMode = .wal`, which also forces synchronous=NORMAL.
        config.prepareDatabase { db in
            let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            guard mode?.lowercased() == "wal" else {
                throw JournalError(.io, "cannot switch database \(path) to WAL mode (it reports \(mode ?? "nothing")); check that its filesystem supports shared memory")
            }
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
        }
        do {
            database = try Self.openQueue(path: path, configuration: config, patience: options.busyTimeoutSeconds)
            try Migrations.apply(to: database, path: path, logger: options.logger)
            identity = DatabaseFile.identity(path)
        } catch let error as JournalError {
            throw error
        } catch {
            throw JournalError(mapping: error, path: path)
        }
    }

    /// Why the database file is no longer the one this journal writes to (deleted, or replaced by another file),
    /// or nil while it is. SQLite keeps writing to the file it opened: after a delete those writes are lost, so a
    /// long-running process should stop when this answers.
    public func fileProblem() -> String? {
        guard let identity else { return nil }
        switch DatabaseFile.identity(path) {
        case nil: return "the database file \(path) was deleted while the worker ran: restore it from a backup (the jobs this worker held are recovered from it at the next start)"
        case let now? where now != identity: return "the database file \(path) was replaced by another file while the worker ran: this worker's writes went to the old one; start the worker again"
        default: return nil
        }
    }

    /// Opens the connection. Switching a new file to WAL needs an exclusive lock, and SQLite may answer BUSY at
    /// once, without waiting, when several processes create the same database together: retry for as long as
    /// the busy timeout allows.
    private static func openQueue(path: String, configuration: Configuration, patience: Double) throws -> DatabaseQueue {
        let start = ContinuousClock.now
        var pause = 0.005
        while true {
            do {
                return try DatabaseQueue(path: path, configuration: configuration)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
                let waited = ContinuousClock.now - start
                guard waited < .milliseconds(Int64(patience * 1000)) else { throw error }
                Thread.sleep(forTimeInterval: pause)
                pause = min(pause * 2, 0.1)
            }
        }
    }

    /// Runs `body` in one immediate (write-locking) transaction, mapping SQLite errors to `JournalError`.
    /// `label` names the write point for `FaultInjection` (`commit:LABEL`). It is required and must be a string
    /// literal at the call: `CrashPointTests` finds every write point by its label in the sources and crashes at
    /// each, so a new one is covered without being listed anywhere.
    func transaction<T: Sendable>(
        _ label: String, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        try await mappingErrors {
            try await database.writeWithoutTransaction { db in try Self.immediate(db, label, body) }
        }
    }

    /// Like `transaction`, but blocks the calling thread until the commit is durable. For callers on threads of
    /// their own (a plugin's host-service call); never call it from Swift's cooperative thread pool.
    func transactionBlocking<T>(_ label: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try database.writeWithoutTransaction { db in try Self.immediate(db, label, body) }
        } catch {
            throw JournalError(mappingAny: error, path: path)
        }
    }

    /// Runs `body` with a consistent read snapshot, mapping SQLite errors to `JournalError`.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await mappingErrors { try await database.read(body) }
    }

    private static func immediate<T>(_ db: Database, _ label: String, _ body: (Database) throws -> T) throws -> T {
        var result: T?
        try db.inTransaction(.immediate) {
            result = try body(db)
            FaultInjection.point("commit:\(label)")  // written, not committed: a crash here must roll it back
            return .commit
        }
        return result!
    }

    private func mappingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let cancellation as CancellationError {
            throw cancellation  // the caller's task was cancelled: not a database problem
        } catch {
            throw JournalError(mappingAny: error, path: path)
        }
    }

    /// Calls `callback` after every commit of this journal that may make a job claimable (enqueue, retry).
    /// Commits of other processes do not call it: a worker sees those through `dataVersion()`.
    public func onNewWork(_ callback: @escaping @Sendable () -> Void) {
        observers.withLock { $0.append(callback) }
    }

    func announceNewWork() {
        for callback in observers.withLock({ $0 }) { callback() }
    }

    /// The names of the migrations applied to this database, in order.
    public func appliedMigrations() async throws -> [String] {
        try await read { db in try Migrations.migrator.appliedMigrations(db) }
    }

    /// The current time in journal units.
    var now: Micros { options.clock.now() }
}
