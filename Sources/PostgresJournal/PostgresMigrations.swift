import Foundation
import PostgresNIO
import WorkerStore

/// Applies the PostgreSQL migrations this binary carries (`EmbeddedPostgresMigrations`, from
/// migrations/postgresql/), each in one transaction with its record in `schema_migrations`. Concurrent first starts
/// are safe: every migrating transaction first takes one advisory transaction lock, and the second finds the work
/// done. A database that records a migration this binary does not know was migrated by a newer worker: refused.
enum PostgresMigrations {
    /// The advisory lock key migrations serialise on (an arbitrary constant: "wrkr" in ASCII).
    static let lockKey: Int64 = 0x7772_6B72

    static func apply(_ journal: PostgresJournal) async throws {
        let known = EmbeddedPostgresMigrations.all.map(\.name)
        if let applied = try await applied(journal), try check(applied, known: known, journal) { return }
        // A migration may wait for another process's (they take turns on the lock) and build indexes on a large
        // journal: it gets minutes, not the statement timeout.
        try await journal.transaction("migrate", deadline: .seconds(600)) { connection in
            try await connection.query("SET LOCAL statement_timeout = '600s'", logger: journal.logger)  // as the deadline
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: journal.logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())
                """, logger: journal.logger)
            var applied: [String] = []
            for try await name in try await connection.query("SELECT name FROM schema_migrations ORDER BY name", logger: journal.logger)
                .decode(String.self) { applied.append(name) }
            if try check(applied, known: known, journal) { return }
            for migration in EmbeddedPostgresMigrations.all where !applied.contains(migration.name) {
                for statement in statements(migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: journal.logger)
                }
                try await connection.query("INSERT INTO schema_migrations (name) VALUES (\(migration.name))", logger: journal.logger)
                journal.logger.info("applied migration \(migration.name) to \(journal.location)")
            }
        }
    }

    /// The migrations recorded, or nil when the table does not exist yet.
    static func applied(_ journal: PostgresJournal) async throws -> [String]? {
        let exists = try await journal.rows("SELECT to_regclass('schema_migrations') IS NOT NULL")
        guard try exists.first?.decode(Bool.self) == true else { return nil }
        return try await journal.rows("SELECT name FROM schema_migrations ORDER BY name").map { try $0.decode(String.self) }
    }

    /// True when everything known is applied; throws when the database has migrations this binary lacks.
    private static func check(_ applied: [String], known: [String], _ journal: PostgresJournal) throws -> Bool {
        if let unknown = applied.first(where: { !known.contains($0) }) {
            throw JournalError(
                .schemaTooNew,
                "the journal at \(journal.location) was migrated by a newer worker (migration \(unknown)): run that worker's binary or a newer one")
        }
        return known.allSatisfy(applied.contains)
    }

    /// Splits a migration into its statements at `;` outside comments, quoted strings and dollar-quoted bodies:
    /// the extended protocol runs one statement at a time.
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        let chars = Array(sql)
        var index = 0
        func flush() {
            let trimmed = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { statements.append(trimmed) }
            current = ""
        }
        while index < chars.count {
            let char = chars[index]
            if char == "-", index + 1 < chars.count, chars[index + 1] == "-" {
                while index < chars.count, chars[index] != "\n" { index += 1 }  // a comment: dropped
                continue
            }
            if char == "'" {
                current.append(char)
                index += 1
                while index < chars.count {
                    current.append(chars[index])
                    index += 1
                    if chars[index - 1] == "'" { break }
                }
                continue
            }
            if char == "$", let end = chars[(index + 1)...].firstIndex(of: "$"),
               chars[(index + 1)..<end].allSatisfy({ $0.isLetter || $0 == "_" }) {
                let tag = String(chars[index...end])
                let rest = String(chars[(end + 1)...])
                if let close = rest.range(of: tag) {
                    let body = tag + rest[..<close.upperBound]
                    current += body
                    index = end + 1 + rest.distance(from: rest.startIndex, to: close.upperBound)
                    continue
                }
            }
            if char == ";" {
                flush()
            } else {
                current.append(char)
            }
            index += 1
        }
        flush()
        return statements
    }
}

/// The statement splitter, for tests.
public enum PostgresMigrationsProbe {
    public static func statements(_ sql: String) -> [String] { PostgresMigrations.statements(sql) }
}
