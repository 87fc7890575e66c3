import Foundation
import PostgresJournal
import Testing
import WorkerStore
import WorkerTestKit

/// PostgreSQL going away under running workers: a restart (as in maintenance or a failover) and a crash of the
/// server. Each test has a server of its own. Workers that lose their lock session exit 75; the test restarts them
/// as a supervisor would. Nothing may be lost or completed twice, and the outage is not counted as crashes
/// against the jobs.
@Suite struct PostgresOutageTests {
    @Test(arguments: ["fast", "immediate"])
    func aServerRestartUnderLoadLosesNothingAndCountsNoCrash(mode: String) async throws {
        let server = PostgresTestServer()
        let url = try await server.database("outage")
        let directory = try TemporaryDirectory("outage")
        defer { directory.remove() }
        var options = PostgresJournalOptions()
        options.statementTimeout = .seconds(120)
        options.connectTimeout = .seconds(60)  // the test's own reads reconnect after the restart, on a loaded machine
        let journal = try await PostgresJournal.open(try PostgresLocation(url: url), options: options)
        let ids = try await journal.enqueue(batch: (0..<60).map { _ in NewJob(handler: "sleep", payload: #"{"ms": 300}"#) }).map(\.id)
        var started = 0
        func start() async throws -> RunningWorker {
            started += 1
            return try await RunningWorker(
                ["run", "--db", url, "--plugin", PluginFixtures.examples, "--concurrency", "4", "--drain-timeout", "1"],
                logPath: directory.file("worker-\(started).log"))
        }
        var workers = [try await start(), try await start()]
        #expect(await eventually(timeout: .seconds(60)) { (try? await journal.stats()[.completed] ?? 0) ?? 0 >= 8 })
        try await server.restart(mode: mode)
        // A supervisor's part: start again, a second later, every worker that exited, until the work is done.
        var exits: [String] = []
        var done = false
        let deadline = ContinuousClock.now + .seconds(180)
        while ContinuousClock.now < deadline {
            if (try? await journal.stats()[.completed]) == ids.count {
                done = true
                break
            }
            for index in workers.indices where !workers[index].isAlive {
                exits.append(String(workers[index].log.suffix(300)))
                workers[index] = try await start()
            }
            try await Task.sleep(for: .seconds(1))
        }
        let stats = try await journal.stats()
        #expect(done, "\(stats); logs: \(workers.map { $0.log.suffix(400) }); exits: \(exits.suffix(3))")
        for worker in workers {
            worker.signal(SIGTERM)
            _ = await worker.waitForExit()
        }
        for id in ids {
            let job = try await journal.job(id)
            #expect(job.state == .completed)
            #expect(job.crashes == 0, "job \(id): the server's \(mode) restart was counted as a crash")
            let completions = try await journal.events(job: id).filter { $0.to == .completed }.count
            #expect(completions == 1, "job \(id) completed \(completions) times")
        }
        #expect(try await journal.verify().isSound)
        await journal.close()
        try await server.stop()
    }
}
