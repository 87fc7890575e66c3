import GRDB

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
    static func apply(to database: DatabaseQueue, path: String) throws {
        if try isUpToDate(database, path: path) { return }
        do {
            try migrator.migrate(database)
        } catch {
            // Another process may have migrated concurrently: its transaction won and ours failed on
            // "table already exists". Accept that outcome if the schema is now complete.
            if try isUpToDate(database, path: path) { return }
            throw error
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
