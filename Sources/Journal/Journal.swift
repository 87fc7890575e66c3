import WorkerStore
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
    /// The database, WAL and shared-memory files as they were opened, to notice one deleted or replaced under us.
    private let files: StorageFiles
    /// The kernel locks that say which workers are alive.
    let liveness: LivenessLocks
    /// Why this journal stopped writing for good (a file changed under it), or nil.
    private let abandoned = Mutex<String?>(nil)
    private let observers = Mutex<[@Sendable () -> Void]>([])

    /// Opens (creating with mode 0600 when missing) and migrates the database at `path`.
    ///
    /// Refuses, leaving the file untouched, a file that is not a SQLite database, a SQLite database of another
    /// program, and a database migrated by a newer binary.
    public init(path: String, options: JournalOptions = JournalOptions()) throws {
        self.path = path
        self.options = options
        try DatabaseFile.prepare(path)
        var config = Configuration()
        // SQLite takes the timeout in milliseconds as a 32-bit int: clamp, so that no value can trap.
        config.busyMode = .timeout(min(max(options.busyTimeoutSeconds.isNaN ? 0 : options.busyTimeoutSeconds, 0), 2_000_000))
        config.label = "worker.journal"
        let synchronous = options.synchronous.rawValue.uppercased()
        // WAL is set here rather than with GRDB's `journalMode = .wal`, which also forces synchronous=NORMAL.
        config.prepareDatabase { db in
            try JournalSchema.refuseForeign(db, path: path)  // before WAL mode, which would write to it
            let mode = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            guard mode?.lowercased() == "wal" else {
                throw JournalError(.io, "cannot switch database \(path) to WAL mode (it reports \(mode ?? "nothing")); check that its filesystem supports shared memory")
            }
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            if let observe = options.statementObserver {
                db.trace(options: .statement) { event in
                    if case .statement(let statement) = event { observe(statement.sql) }
                }
            }
        }
        do {
            database = try Self.openQueue(path: path, configuration: config, patience: options.busyTimeoutSeconds)
            try Migrations.apply(to: database, path: path, logger: options.logger)
            files = StorageFiles(path: path)  // after the first reads: SQLite has opened its WAL and shm files
            liveness = LivenessLocks(path: path, identity: DatabaseFile.identity(path))
        } catch let error as JournalError {
            throw error
        } catch {
            throw JournalError(mapping: error, path: path)
        }
    }

    /// Why this journal no longer writes (a file of the database was deleted or replaced under it: see
    /// `StorageFiles`), or nil while it does. Once it answers, every write fails with the same reason, and a
    /// long-running process should stop. When only the WAL file went, its commits are first copied into the
    /// database file, so that nothing acknowledged is lost.
    public func storageProblem() async -> JournalError? {
        if let reason = abandoned.withLock({ $0 }) { return JournalError(.io, reason) }
        guard let problem = files.problem() else { return nil }
        do {
            return try await database.writeWithoutTransaction { db in self.abandon(db, problem) }
        } catch {
            return abandon(nil, problem)  // the WAL's commits cannot be saved without the connection
        }
    }

    /// Stops writing for good because of `problem`, and returns the error every write gives from now on.
    private func abandon(_ db: Database?, _ problem: StorageFiles.Problem) -> JournalError {
        if let reason = abandoned.withLock({ $0 }) { return JournalError(.io, reason) }
        var saved: String?
        if case .wal = problem, let db {
            // This connection still reads the deleted WAL through its descriptor and owns a valid index of it.
            do {
                let (frames, copied) = try db.checkpoint(.full)
                saved = copied >= frames
                    ? "its commits were copied into the database file, then it stopped writing (nothing acknowledged is lost)"
                    : "\(frames - copied) of its \(frames) WAL pages could not be copied into the database file (another process was reading), then it stopped writing"
            } catch {
                saved = "its commits could not be copied into the database file (\(error)), then it stopped writing"
            }
        }
        let reason = problem.message(path: path, saved: saved)
        abandoned.withLock { $0 = $0 ?? reason }
        // Closing the connection would let SQLite checkpoint and delete the WAL by name: the files that replaced
        // ours. Keep it open until the process exits.
        _ = Unmanaged.passRetained(database)
        return JournalError(.io, abandoned.withLock { $0 } ?? reason)
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
                guard waited < .milliseconds(Int64(min(max(patience, 0), 1e9) * 1000)) else { throw error }  // no trap on a huge value
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
            try await database.writeWithoutTransaction { db in try self.immediate(db, label, body) }
        }
    }

    /// Like `transaction`, but blocks the calling thread until the commit is durable. For callers on threads of
    /// their own (a plugin's host-service call); never call it from Swift's cooperative thread pool.
    func transactionBlocking<T>(_ label: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try database.writeWithoutTransaction { db in try immediate(db, label, body) }
        } catch {
            throw JournalError(mappingAny: error, path: path)
        }
    }

    /// Runs `body` with a consistent read snapshot, mapping SQLite errors to `JournalError`.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await mappingErrors { try await database.read(body) }
    }

    /// One write transaction, committed only while the files are still the ones this journal opened: checked
    /// under the write lock, right before the commit, so that nothing is acknowledged into files that other
    /// processes no longer see.
    private func immediate<T>(_ db: Database, _ label: String, _ body: (Database) throws -> T) throws -> T {
        if let reason = abandoned.withLock({ $0 }) { throw JournalError(.io, reason) }
        var result: T?
        var changed: StorageFiles.Problem?
        try db.inTransaction(.immediate) {
            result = try body(db)
            changed = files.problem()
            if changed != nil { return .rollback }
            FaultInjection.point("commit:\(label)")  // written, not committed: a crash here must roll it back
            return .commit
        }
        if let changed { throw abandon(db, changed) }
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
