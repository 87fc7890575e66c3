import WorkerStore
import Foundation
import GRDB
import Logging

/// Applies the embedded migrations (the files of `migrations/`), recorded in GRDB's `grdb_migrations` table.
enum Migrations {
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        for migration in EmbeddedMigrations.all {
            let sql = migration.sql
            migrator.registerMigration(migration.name) { db in
                try db.execute(sql: sql)
            }
        }
        return migrator
    }()

    /// Checks, without writing, that the database is not newer than this binary; then migrates if needed.
    ///
    /// Several processes may open a new database at once: one migrates, and the others see errors such as
    /// "table already exists" or "no such table" while the schema changes under them. They retry, and succeed
    /// once the schema is complete.
    static func apply(to database: DatabaseQueue, path: String, logger: Logger) throws {
        var failures = 0
        while true {
            do {
                if try isUpToDate(database, path: path) { return }
                let before = try database.read { try migrator.appliedIdentifiers($0) }
                try migrator.migrate(database)
                let applied = EmbeddedMigrations.all.map(\.name).filter { !before.contains($0) }
                logger.info("migrated database", metadata: ["db": "\(path)", "applied": "\(applied.joined(separator: ","))"])
                return
            } catch let error as JournalError {
                throw error
            } catch {
                failures += 1
                guard failures < 8, let sqlite = error as? DatabaseError,
                      [.SQLITE_ERROR, .SQLITE_SCHEMA, .SQLITE_BUSY].contains(sqlite.resultCode) else { throw error }
                logger.debug("retrying migration: another process is migrating", metadata: ["db": "\(path)", "error": "\(error)"])
                usleep(UInt32(10_000 * failures))
            }
        }
    }

    private static func isUpToDate(_ database: DatabaseQueue, path: String) throws -> Bool {
        try database.read { db in
            let applied = try migrator.appliedIdentifiers(db)
            let known = Set(EmbeddedMigrations.all.map(\.name))
            let unknown = applied.subtracting(known).sorted()
            if !unknown.isEmpty {
                throw JournalError(
                    .schemaTooNew,
                    "database \(path) was migrated by a newer worker (unknown migration \(unknown.joined(separator: ", "))): upgrade this worker binary; the file was left untouched")
            }
            return known.isSubset(of: applied)
        }
    }
}

extension Journal {
    /// The SQL of an embedded migration, for checking the binary against the `migrations/` files.
    public static func embeddedMigrationSQL(named name: String) -> String? {
        EmbeddedMigrations.all.first { $0.name == name }?.sql
    }

    /// SQLite's `synchronous` setting on the journal's connection: 2 is FULL, 1 NORMAL.
    public func connectionSynchronous() async throws -> Int {
        try await read { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }
}
