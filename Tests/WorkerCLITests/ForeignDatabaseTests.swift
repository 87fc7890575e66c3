import Foundation
import Testing
import WorkerTestKit

/// Databases that are not worker journals, and journals whose schema was damaged (issue 11, items 13 and 14).
@Suite struct ForeignDatabaseTests {
    /// Runs SQL through Python's sqlite3 (another program's database, made by another program).
    func sqlite(_ path: String, _ sql: String) async throws {
        let result = try await runProcess("/usr/bin/env", [
            "python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit(); c.close()",
            path, sql,
        ])
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// Refusals of every kind of command, with the file left byte for byte as it was and no WAL made beside it.
    func expectRefusedAndUntouched(_ fixture: CLIFixture, mentioning: String) async throws {
        let before = try Data(contentsOf: URL(fileURLWithPath: fixture.db))
        for arguments in [["stats"], ["jobs"], ["status"], ["enqueue", "noop"], ["journal", "verify"], ["migrate"]] {
            let result = try await fixture.worker(arguments)
            expectFailure(result, status: 78, mentioning: mentioning)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.db)) == before, "the foreign database was changed")
        #expect(!FileManager.default.fileExists(atPath: fixture.db + "-wal"))
        #expect(!FileManager.default.fileExists(atPath: fixture.db + "-journal"))
    }

    @Test func aDatabaseOfAnotherProgramIsRefusedAndLeftUntouched() async throws {
        let fixture = try CLIFixture()
        defer { fixture.remove() }
        try await sqlite(fixture.db, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); CREATE TABLE orders (id INTEGER); INSERT INTO users (name) VALUES ('ada');")
        try await expectRefusedAndUntouched(fixture, mentioning: "is a SQLite database of another program (tables orders, users)")
    }

    @Test func aForeignDatabaseWithAJobsTableIsRefusedToo() async throws {
        let fixture = try CLIFixture()
        defer { fixture.remove() }
        try await sqlite(fixture.db, "CREATE TABLE jobs (id INTEGER PRIMARY KEY, handler TEXT, state TEXT); INSERT INTO jobs (handler, state) VALUES ('x', 'queued');")
        try await expectRefusedAndUntouched(fixture, mentioning: "not a worker journal")
    }

    @Test func aDroppedJournalTableIsAVerifyFindingAndAClearErrorElsewhere() async throws {
        let fixture = try CLIFixture()
        defer { fixture.remove() }
        try await fixture.ok(["enqueue", "noop"])
        try await sqlite(fixture.db, "DROP TABLE workers; DROP TRIGGER job_events_append_only_delete;")
        let verify = try await fixture.worker(["journal", "verify"])
        #expect(verify.status == 65, "exit \(verify.status): \(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("table workers is missing"), "\(verify.stdout)")
        #expect(verify.stdout.contains("trigger job_events_append_only_delete is missing"), "\(verify.stdout)")
        expectFailure(try await fixture.worker(["status"]), status: 74, mentioning: "lacks part of the journal's schema (no such table: workers)")
    }

    @Test func aDeviceIsRefusedAndNothingIsCreatedBesideIt() async throws {
        let fixture = try CLIFixture()
        defer { fixture.remove() }
        let existed = FileManager.default.fileExists(atPath: "/dev/null-journal")
        let result = try await fixture.worker(["stats", "--db", "/dev/null"], withDB: false)
        expectFailure(result, status: 74, mentioning: "/dev/null is a character device, not a database file")
        if !existed { #expect(!FileManager.default.fileExists(atPath: "/dev/null-journal")) }
        #expect(!FileManager.default.fileExists(atPath: "/dev/null-wal"))
    }
}
