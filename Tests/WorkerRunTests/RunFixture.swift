import Foundation
import Journal
import PostgresJournal
import WorkerStore
import Testing
import WorkerTestKit

/// A journal (a SQLite file in a fresh directory, or a database of its own on the test PostgreSQL server), the
/// example plugins, and helpers to run `worker` against them.
struct RunFixture {
    let directory: TemporaryDirectory
    /// The `--db` value.
    let db: String
    /// The test's own view of the journal (another process's, for the worker).
    let journal: any JobStore

    /// A fixture on a SQLite file.
    init() throws {
        directory = try TemporaryDirectory("run")
        db = directory.file("worker.sqlite3")
        var options = JournalOptions()
        options.busyTimeoutSeconds = 60  // the test's own writes wait out a busy worker on a loaded machine
        journal = try Journal(path: db, options: options)
    }

    private init(directory: TemporaryDirectory, db: String, journal: any JobStore) {
        self.directory = directory
        self.db = db
        self.journal = journal
    }

    /// A fixture on a fresh journal of `kind`.
    static func make(_ kind: StoreKind) async throws -> RunFixture {
        switch kind {
        case .sqlite:
            return try RunFixture()
        case .postgres:
            let directory = try TemporaryDirectory("run")
            let url = try await PostgresTestServer.shared.database("run")
            var options = PostgresJournalOptions()
            options.statementTimeout = .seconds(120)  // the test's own reads wait out a loaded machine
            options.connectTimeout = .seconds(60)
            return RunFixture(directory: directory, db: url, journal: try await PostgresJournal.open(try PostgresLocation(url: url), options: options))
        }
    }

    var pluginArguments: [String] { ["--plugin", PluginFixtures.examples] }

    /// Starts `worker run` with the example plugins and `extra` arguments.
    func start(_ extra: [String] = [], environment: [String: String] = [:], log: String = "worker.log") async throws -> RunningWorker {
        try await RunningWorker(["run", "--db", db] + pluginArguments + extra, logPath: directory.file(log), environment: environment)
    }

    /// Runs `worker run --exit-when-idle` to the end and expects exit 0.
    func runUntilIdle(_ extra: [String] = [], log: String = "idle.log", sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let worker = try await start(["--exit-when-idle"] + extra, log: log)
        let exit = await worker.waitForExit(timeout: .seconds(60))
        if exit?.status != 0 {
            Issue.record("worker exited \(String(describing: exit?.status)): \(worker.log.split(separator: "\n").suffix(5).joined(separator: " | "))", sourceLocation: sourceLocation)
        }
    }

    @discardableResult
    func enqueue(_ handler: String, _ payload: String = "{}", key: String? = nil) async throws -> Int64 {
        try await journal.enqueue(NewJob(handler: handler, payload: payload, uniqueKey: key)).job.id
    }

    /// Checks the journal's promises: nothing running, no job completed twice, verify passes.
    func expectSound(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let stats = try await journal.stats()
        #expect(stats[.running] == 0, "jobs stuck running: \(stats)", sourceLocation: sourceLocation)
        for job in try await journal.jobs(JobFilter(limit: 100_000)) {
            let completions = try await journal.events(job: job.id).filter { $0.to == .completed }.count
            #expect(completions <= 1, "job \(job.id) completed \(completions) times", sourceLocation: sourceLocation)
        }
        let report = try await journal.verify()
        #expect(report.isSound, "\(report.findings) \(report.integrityErrors)", sourceLocation: sourceLocation)
    }

    func remove() { directory.remove() }
}

/// Seconds between two instants, for reporting.
func seconds(_ from: ContinuousClock.Instant, _ to: ContinuousClock.Instant) -> Double {
    let d = to - from
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
