import Foundation
import GRDB
import Journal
import WorkerStore
import Testing
import WorkerTestKit

@Suite struct DatabaseFileTests {
    @Test func aNewDatabaseIsCreatedPrivateInWALModeWithFullSync() async throws {
        let dir = try TemporaryDirectory("file")
        defer { dir.remove() }
        let journal = try Journal(path: dir.file("w.sqlite3"))
        var info = stat()
        #expect(stat(journal.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let (mode, sync) = try await journal.pragmas()
        #expect(mode == "wal")
        #expect(sync == 2)  // FULL
        #expect(try await journal.appliedMigrations() == EmbeddedMigrationFiles.names)
    }

    @Test func synchronousNormalCanBeChosen() async throws {
        let dir = try TemporaryDirectory("file")
        defer { dir.remove() }
        var options = JournalOptions()
        options.synchronous = .normal
        let journal = try Journal(path: dir.file("w.sqlite3"), options: options)
        #expect(try await journal.pragmas().synchronous == 1)
    }

    @Test func aFileThatIsNotSQLiteIsRefusedAndLeftUntouched() throws {
        let dir = try TemporaryDirectory("file")
        defer { dir.remove() }
        let path = dir.file("notes.txt")
        let content = Data(String(repeating: "important notes, not a database\n", count: 200).utf8)
        try content.write(to: URL(fileURLWithPath: path))
        #expect(throws: JournalError.self) { try Journal(path: path) }
        do { _ = try Journal(path: path) } catch let error as JournalError {
            #expect(error.code == .notADatabase)
            #expect(error.message.contains(path))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == content)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test func aDatabaseFromANewerWorkerIsRefusedAndLeftUntouched() async throws {
        let dir = try TemporaryDirectory("file")
        defer { dir.remove() }
        let path = dir.file("w.sqlite3")
        do {
            let journal = try Journal(path: path)
            _ = try await journal.enqueue(NewJob(handler: "noop"))
        }
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('9999_from_the_future')")
        }
        // Move everything into the main file, so that any later write would show in its bytes.
        try await DatabaseQueue(path: path).writeWithoutTransaction { db in
            _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            _ = try Journal(path: path)
            Issue.record("a newer schema was accepted")
        } catch let error as JournalError {
            #expect(error.code == .schemaTooNew)
            #expect(error.message.contains("9999_from_the_future"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func aMissingDirectoryIsNamed() throws {
        #expect {
            try Journal(path: "/nonexistent-\(getpid())/dir/w.sqlite3")
        } throws: { error in
            (error as? JournalError)?.code == .databaseMissing
                && (error as? JournalError)?.message.contains("/nonexistent-\(getpid())/dir") == true
        }
    }

    @Test func theEmbeddedMigrationsEqualTheFilesInMigrations() throws {
        let files = try EmbeddedMigrationFiles.read()
        #expect(!files.isEmpty)
        #expect(files.map(\.name) == EmbeddedMigrationFiles.names)
        for file in files {
            #expect(Journal.embeddedMigrationSQL(named: file.name) == file.sql, "run scripts/embed-migrations")
        }
    }
}

/// The files of `migrations/` in the source tree.
enum EmbeddedMigrationFiles {
    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("migrations")
    }

    static func read() throws -> [(name: String, sql: String)] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
            .sorted()
            .map { file in
                let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                return (String(file.dropLast(4)), text.hasSuffix("\n") ? String(text.dropLast()) : text)
            }
    }

    static var names: [String] { (try? read().map(\.name)) ?? [] }
}

extension Journal {
    func pragmas() async throws -> (journalMode: String, synchronous: Int) {
        let queue = try DatabaseQueue(path: path)
        let mode = try await queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } ?? ""
        // synchronous is per connection: read it through the journal's own connection.
        return (mode, try await connectionSynchronous())
    }
}
