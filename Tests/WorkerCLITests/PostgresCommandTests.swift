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
        // The payloads come through a FIFO that the test feeds: two batches, then (once they are in) the crash,
        // then more, which the command sends to a server no longer there; so the crash falls in the middle of a
        // command still running, however loaded the machine.
        let fifo = directory.file("payloads.fifo")
        try #require(mkfifo(fifo, 0o600) == 0, "mkfifo: \(errno)")
        signal(SIGPIPE, SIG_IGN)  // a write after the command exited fails with EPIPE instead of killing the test
        let bulk = Task {
            try await runProcess(ProductBinary.path("worker"), ["enqueue", "noop", "--payloads-from", fifo, "--batch-size", "5000", "--db", url],
                                 currentDirectory: directory.path)
        }
        guard let feed = await Self.openForWriting(fifo) else {
            Issue.record("the command never opened its input: \(String(describing: try? await bulk.value))")
            return
        }
        let payloads = { (range: Range<Int>) in Data(range.map { #"{"n": \#($0)}"# + "\n" }.joined().utf8) }
        try feed.write(contentsOf: payloads(0..<10_000))
        let progressed = await eventually(timeout: .seconds(240)) {
            (Int((try? await server.psql(url, "SELECT count(*) FROM jobs")) ?? "0") ?? 0) >= 10_000
        }
        try #require(progressed, "the bulk enqueue committed no batch in 240 s")
        try await server.crash()
        try? feed.write(contentsOf: payloads(10_000..<15_000))  // one more batch, for a server no longer there
        try? feed.close()
        let result = try await bulk.value
        if result.status == 0 {
            Issue.record("the enqueue succeeded with its server down: \(result.stdout)")
        } else {
            #expect(result.status == 75, "\(result.stderr)")
            #expect(result.stderrLines.count == 1 && result.stderr.contains("127.0.0.1"), "\(result.stderr)")
        }
        try await server.startAgain()
        let jobs = Int(try await server.psql(url, "SELECT count(*) FROM jobs")) ?? -1
        let events = Int(try await server.psql(url, "SELECT count(*) FROM job_events")) ?? -1
        #expect(jobs == 10_000, "\(jobs) jobs: the two batches before the crash, no more, none half-written")
        #expect(events == jobs)
        try await server.stop()
    }

    /// Opens `fifo` for writing once a reader has it open (nil after 240 s without one). Writes then block while
    /// the pipe is full, as on any pipe.
    static func openForWriting(_ fifo: String) async -> FileHandle? {
        let started = ContinuousClock.now
        while ContinuousClock.now - started < .seconds(240) {
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)  // fails with ENXIO while nobody reads
            if fd >= 0 {
                _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
                return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}
