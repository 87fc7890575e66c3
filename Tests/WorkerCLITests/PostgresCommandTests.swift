import Foundation
import Testing
import WorkerTestKit

/// What is particular to PostgreSQL at the command line: URLs and the servers that cannot be used, each with one
/// line and the contract's exit code, nothing written.
@Suite struct PostgresCommandTests {
    @Test func aServerThatCannotBeUsedIsOneLineWithItsExitCode() async throws {
        let server = try await PostgresTestServer.shared.start()
        let directory = try TemporaryDirectory("pgcli")
        defer { directory.remove() }
        let cases: [(String, Int32, String)] = [
            ("postgres://worker@127.0.0.1:1/x?sslmode=disable", 75, "127.0.0.1:1"),
            ("postgres://worker@127.0.0.1:\(server.port)/no_such_database?sslmode=disable", 66, "no_such_database"),
            ("postgres://nobody@127.0.0.1:\(server.port)/postgres?sslmode=disable", 78, "nobody"),
            ("postgres://worker@127.0.0.1:\(server.port)/postgres?sslmode=require", 78, "TLS"),
            ("postgres://worker:secret@127.0.0.1:\(server.port)/postgres?sslmode=maybe", 64, "sslmode=maybe"),
            ("postgres://127.0.0.1/jobs", 64, "names no user"),
        ]
        for (url, status, mentioning) in cases {
            for command in [["stats"], ["enqueue", "noop"]] {
                let result = try await runProcess(ProductBinary.path("worker"), command + ["--db", url], currentDirectory: directory.path)
                expectFailure(result, status: status, mentioning: mentioning)
                #expect(!result.stderr.contains("secret"), "the password was printed: \(result.stderr)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("worker.sqlite3")), "a URL was taken for a file name")
    }

    @Test func theURLMayComeFromWORKER_DBAndThePasswordFromPGPASSWORD() async throws {
        let url = try await PostgresTestServer.shared.database("env")
        let directory = try TemporaryDirectory("pgcli")
        defer { directory.remove() }
        let enqueued = try await runProcess(
            ProductBinary.path("worker"), ["enqueue", "noop"], environment: ["WORKER_DB": url, "PGPASSWORD": "unused-with-trust"],
            currentDirectory: directory.path)
        #expect(enqueued.status == 0 && enqueued.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(enqueued.stderr)")
        #expect(try await PostgresTestServer.shared.psql(url, "SELECT handler || ':' || state FROM jobs") == "noop:queued")
        #expect(!FileManager.default.fileExists(atPath: directory.file("worker.sqlite3")))
    }

    /// A command whose server crashes under it: 75, one line, and nothing half-written (whole batches only, each
    /// job with its creation event).
    @Test func aServerCrashMidCommandIsTemporaryAndLeavesNothingHalfWritten() async throws {
        let server = PostgresTestServer()
        let url = try await server.database("gone")
        let directory = try TemporaryDirectory("pgcli")
        defer { directory.remove() }
        let lines = (0..<1_000_000).map { #"{"n": \#($0)}"# }.joined(separator: "\n")
        let bulk = Task {
            try await runProcess(ProductBinary.path("worker"), ["enqueue", "noop", "--payloads-from", "-", "--batch-size", "5000", "--db", url], stdin: lines,
                                 currentDirectory: directory.path)
        }
        // The crash comes once a batch is in, never before (a debug build on a loaded machine may take long to
        // reach its first commit; crashing earlier would let the whole input in after the restart).
        let progressed = await eventually(timeout: .seconds(240)) {
            (Int((try? await server.psql(url, "SELECT count(*) FROM jobs")) ?? "0") ?? 0) >= 5000
        }
        try #require(progressed, "the bulk enqueue committed no batch in 240 s")
        try await server.restart(mode: "immediate")
        let result = try await bulk.value
        if result.status == 0 {
            Issue.record("the enqueue finished before the server crashed: nothing was tested")
        } else {
            #expect(result.status == 75, "\(result.stderr)")
            #expect(result.stderrLines.count == 1 && result.stderr.contains("127.0.0.1"), "\(result.stderr)")
        }
        let jobs = Int(try await server.psql(url, "SELECT count(*) FROM jobs")) ?? -1
        let events = Int(try await server.psql(url, "SELECT count(*) FROM job_events")) ?? -1
        #expect(jobs > 0 && jobs % 5000 == 0 && jobs < 1_000_000, "\(jobs) jobs: a batch was half-written")
        #expect(events == jobs)
        try await server.stop()
    }
}
