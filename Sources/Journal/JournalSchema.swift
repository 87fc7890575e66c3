import WorkerStore
import Foundation
import GRDB

/// What makes a SQLite database a worker journal, checked before anything is written to it.
enum JournalSchema {
    /// Refuses a database that holds tables of another program: the worker would otherwise switch it to WAL
    /// mode and write its schema into it. An empty database, or one a worker is migrating right now (its
    /// `grdb_migrations` table only), is the worker's to create.
    static func refuseForeign(_ db: Database, path: String) throws {
        let tables = try String.fetchAll(db, sql: """
            SELECT name FROM sqlite_master
            WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'grdb_migrations'
            ORDER BY name
            """)
        guard !tables.isEmpty else { return }
        let hasMigrations = try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'grdb_migrations')") ?? false
        if hasMigrations {
            let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
            if applied.contains(where: { name in EmbeddedMigrations.all.contains { $0.name == name } }) { return }
        }
        let shown = tables.prefix(5).joined(separator: ", ") + (tables.count > 5 ? " and \(tables.count - 5) more" : "")
        throw JournalError(
            .notAJournal,
            "\(path) is a SQLite database of another program (tables \(shown)), not a worker journal: point --db at a worker database or a new file; it was left untouched")
    }

    /// The tables, indexes and triggers the migrations create, by kind ("table", "index", "trigger") and name.
    static let expectedObjects = SchemaObjects.created(by: EmbeddedMigrations.all.map(\.sql))

    /// One finding per table, index or trigger of the journal's schema that the database lacks.
    static func missingObjects(_ db: Database) throws -> [String] {
        let present = Set(try Row.fetchAll(db, sql: "SELECT type, name FROM sqlite_master").map {
            "\(try $0.decode(String.self, forColumn: "type")) \(try $0.decode(String.self, forColumn: "name"))"
        })
        return expectedObjects.filter { !present.contains("\($0.kind) \($0.name)") }.map {
            VerifyFinding.missing(kind: $0.kind, name: $0.name)
        }
    }
}
