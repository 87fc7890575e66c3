import Foundation
@testable import PostgresJournal
import PostgresNIO
import Testing
import WorkerStore
import WorkerTestKit

/// Opening a PostgreSQL journal: URLs, migrations (also by several processes at once), and the errors of a server
/// that cannot be used.
@Suite struct OpeningTests {
    @Test func urlsAreParsedWithLibpqMeanings() throws {
        let full = try PostgresLocation(url: "postgresql://app:s%40cret@db.example:6432/jobs?sslmode=verify-full", environment: [:])
        #expect(full == PostgresLocation(host: "db.example", port: 6432, user: "app", password: "s@cret", database: "jobs", tls: .verifyFull))
        #expect(full.description == "postgres://app@db.example:6432/jobs?sslmode=verify-full")
        let fromEnvironment = try PostgresLocation(url: "postgres://app@10.0.0.5/jobs", environment: ["PGPASSWORD": "pw"])
        #expect(fromEnvironment.password == "pw" && fromEnvironment.port == 5432 && fromEnvironment.tls == .prefer)
        let v6 = try PostgresLocation(url: "postgres://app@[::1]:5433/jobs?sslmode=disable", environment: [:])
        #expect(v6.host == "::1" && v6.endpoint == "[::1]:5433")
    }

    @Test(arguments: [
        "postgres://db.example/jobs", "postgres://app@/jobs", "postgres://app@db.example", "postgres://app@db.example/a/b",
        "postgres://app@db.example/jobs?sslmode=sometimes", "postgres://app@db.example/jobs?pool=3",
        "postgres://app@db.example:99999/jobs",
    ])
    func malformedURLsAreUsageErrors(url: String) {
        #expect {
            try PostgresLocation(url: url, environment: [:])
        } throws: { error in
            guard let error = error as? JournalError else { return false }
            return error.exitClass == .usage && error.message.contains("postgres://USER")
        }
    }

    /// libpq's `connect_timeout` and `$PGCONNECT_TIMEOUT` (the URL's wins); anything but 1-3600 seconds is refused.
    @Test func theConnectTimeoutComesFromTheURLOrTheEnvironment() throws {
        #expect(try PostgresLocation(url: "postgres://app@h/jobs", environment: [:]).connectTimeout == nil)
        #expect(try PostgresLocation(url: "postgres://app@h/jobs", environment: ["PGCONNECT_TIMEOUT": "20"]).connectTimeout == .seconds(20))
        let both = try PostgresLocation(url: "postgres://app@h/jobs?connect_timeout=7", environment: ["PGCONNECT_TIMEOUT": "20"])
        #expect(both.connectTimeout == .seconds(7))
        for (url, environment) in [("postgres://app@h/jobs?connect_timeout=0", [:]), ("postgres://app@h/jobs?connect_timeout=soon", [:]),
                                   ("postgres://app@h/jobs", ["PGCONNECT_TIMEOUT": "-1"])] {
            #expect {
                try PostgresLocation(url: url, environment: environment)
            } throws: { error in
                (error as? JournalError)?.exitClass == .usage && "\(error)".contains("seconds to wait")
            }
        }
    }

    @Test func aPasswordNeverAppearsInAnError() {
        #expect {
            try PostgresLocation(url: "postgres://app:topsecret@db.example/jobs?sslmode=bogus", environment: [:])
        } throws: { error in
            "\(error)".contains("***") && !"\(error)".contains("topsecret")
        }
    }

    @Test func openingMigratesOnceAndAgainFindsNothingToDo() async throws {
        let url = try await PostgresTestServer.shared.database("open")
        let journal = try await PostgresJournal.open(try PostgresLocation(url: url), options: .forTests)
        await journal.close()
        let again = try await PostgresJournal.open(try PostgresLocation(url: url), options: .forTests)
        await again.close()
        let names = try await PostgresTestServer.shared.psql(url, "SELECT string_agg(name, ',' ORDER BY name) FROM schema_migrations")
        #expect(names == EmbeddedPostgresMigrations.all.map(\.name).joined(separator: ","))
    }

    /// The server cancels a statement 1 s before the client would give up on it, so that an abandoned statement
    /// never commits later; the rounds' own pool plans without bitmap scans.
    @Test func sessionsCarryTheServerSideTimeoutAndTheRoundsTheirPlannerSetting() async throws {
        let url = try await PostgresTestServer.shared.database("open")
        var options = PostgresJournalOptions.forTests
        options.statementTimeout = .seconds(12)
        let journal = try await PostgresJournal.open(try PostgresLocation(url: url), options: options)
        #expect(try await journal.rows("SHOW statement_timeout").first?.decode(String.self) == "11s")
        #expect(try await journal.rows("SHOW enable_bitmapscan").first?.decode(String.self) == "on")
        #expect(try await journal.rows("SHOW enable_bitmapscan", on: journal.rounds).first?.decode(String.self) == "off")
        #expect(try await journal.rows("SHOW statement_timeout", on: journal.rounds).first?.decode(String.self) == "11s")
        await journal.close()
    }

    @Test func manyFirstStartsAtOnceMigrateOnce() async throws {
        let url = try await PostgresTestServer.shared.database("race")
        let location = try PostgresLocation(url: url)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    let journal = try await PostgresJournal.open(location, options: .forTests)
                    await journal.close()
                }
            }
            try await group.waitForAll()
        }
        #expect(try await PostgresTestServer.shared.psql(url, "SELECT count(*) FROM schema_migrations") == "\(EmbeddedPostgresMigrations.all.count)")
    }

    @Test func aSchemaFromANewerWorkerIsRefused() async throws {
        let url = try await PostgresTestServer.shared.database("newer")
        await (try PostgresJournal.open(try PostgresLocation(url: url), options: .forTests)).close()
        _ = try await PostgresTestServer.shared.psql(url, "INSERT INTO schema_migrations (name) VALUES ('9999_from_the_future')")
        await #expect {
            try await PostgresJournal.open(try PostgresLocation(url: url), options: .forTests)
        } throws: { error in
            (error as? JournalError)?.code == .schemaTooNew && (error as? JournalError)?.exitClass == .config
        }
    }

    @Test func aServerThatIsNotThereIsTemporaryAndNamed() async throws {
        await #expect {
            try await PostgresJournal.open(try PostgresLocation(url: "postgres://worker@127.0.0.1:1/x?sslmode=disable"), options: .forTests)
        } throws: { error in
            guard let error = error as? JournalError else { return false }
            return error.exitClass == .temporary && error.message.contains("127.0.0.1:1")
        }
    }

    @Test func aMissingDatabaseIsNoInput() async throws {
        let server = try await PostgresTestServer.shared.start()
        await #expect {
            try await PostgresJournal.open(try PostgresLocation(url: "postgres://worker@127.0.0.1:\(server.port)/no_such_db?sslmode=disable"), options: .forTests)
        } throws: { error in
            guard let error = error as? JournalError else { return false }
            return error.exitClass == .noInput && error.message.contains("no_such_db")
        }
    }

    @Test func anUnknownRoleIsAConfigurationError() async throws {
        let server = try await PostgresTestServer.shared.start()
        await #expect {
            try await PostgresJournal.open(try PostgresLocation(url: "postgres://nobody@127.0.0.1:\(server.port)/postgres?sslmode=disable"), options: .forTests)
        } throws: { error in
            guard let error = error as? JournalError else { return false }
            return error.exitClass == .config && error.message.contains("nobody")
        }
    }

    @Test func tlsRequiredByTheURLButNotOfferedIsAConfigurationError() async throws {
        let server = try await PostgresTestServer.shared.start()
        await #expect {
            try await PostgresJournal.open(try PostgresLocation(url: "postgres://worker@127.0.0.1:\(server.port)/postgres?sslmode=require"), options: .forTests)
        } throws: { error in
            guard let error = error as? JournalError else { return false }
            return error.exitClass == .config && error.message.contains("TLS")
        }
    }

    @Test func statementsAreSplitOutsideQuotesCommentsAndBodies() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'a;b');
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
            SELECT 1
            """
        #expect(PostgresMigrationsProbe.statements(sql) == [
            "CREATE TABLE a (x text DEFAULT 'a;b')",
            "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$",
            "SELECT 1",
        ])
    }
}
