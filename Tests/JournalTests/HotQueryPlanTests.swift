import Foundation
import GRDB
import Journal
import Synchronization
import Testing
import WorkerStore
import WorkerTestKit

/// What a worker asks of SQLite on every claim, every idle look and every heartbeat, and what `/metrics` asks at
/// each scrape (and the dashboard's overview at each refresh), reads only through the partial indexes of unfinished jobs (or by id): never a walk of the history,
/// all of a handler's or a queue's jobs, however many finished. An index added for listings (the handler and queue
/// indexes of migration 0005) once made the planner do exactly that on every claim: 2,277 no-op jobs/s against
/// 26,000. The statements are the journal's own, traced while it does a worker's work.
@Suite struct HotQueryPlanTests {
    static let allowed = ["jobs_ready", "jobs_interrupted", "jobs_scheduled", "jobs_running", "jobs_dead", "jobs_cancelled",
                          "jobs_unique_key", "INTEGER PRIMARY KEY"]

    @Test func theWorkersQueriesReadOnlyUnfinishedJobs() async throws {
        let statements = Mutex<Set<String>>([])
        let fixture = try await Fixture { options in
            options.statementObserver = { sql in _ = statements.withLock { $0.insert(sql) } }
        }
        defer { fixture.remove() }
        let journal = fixture.journal
        statements.withLock { $0.removeAll() }  // the migrations and the registration are not a worker's work
        // A worker's round trip, with the filters a worker claims with, and its idle looks and beats.
        _ = try await fixture.enqueue("h", queue: "q")
        _ = try await fixture.enqueue("h", runAt: fixture.clock.now + 60_000_000)
        _ = try await fixture.enqueue("h", key: "k")
        var request = ClaimRequest(
            worker: fixture.worker, limit: 2, queues: ["q", "default"], handlers: ["h"], isolateSuspects: true, busy: false)
        request.ahead = 2
        request.aheadHandlers = ["h"]
        let claimed = try await journal.finishAndClaim(finished: [], claim: request).claimed
        _ = try await journal.finishAndClaim(finished: claimed.map { ($0.id, JobOutcome.completed) }, claim: request)
        _ = try await journal.nextRunAt()
        _ = try await journal.dataVersion()
        _ = try await journal.activeJobCount()
        _ = try await journal.activeJobsByHandler(queues: ["q"])
        _ = try await journal.activeJobsByHandler(queues: [])
        _ = try await journal.waitingHandlers(notIn: ["h"])
        _ = try await journal.waitingByHandler()
        _ = try await journal.cancelRequests(worker: fixture.worker)
        _ = try await journal.heartbeat(worker: fixture.worker)
        _ = try await journal.recoverDeadWorkers(recoverer: fixture.worker, maxCrashes: 3)
        _ = try await journal.depth()
        _ = try await journal.countsExceptCompleted()  // what the dashboard's overview counts, at every refresh
        _ = try await journal.workerSummaries(limit: 50)
        _ = try await journal.oldestQueuedAge()
        _ = try await journal.liveWorkerCount()

        let traced = statements.withLock { $0 }.filter { $0.contains("jobs") }
        try #require(traced.count > 10, "only \(traced.count) statements traced")
        let database = try DatabaseQueue(path: fixture.directory.file("worker.sqlite3"))
        for sql in traced.sorted() {
            let plan = try await database.read { db in
                let statement = try db.makeStatement(sql: "EXPLAIN QUERY PLAN " + sql)
                statement.setUncheckedArguments([])  // unbound parameters are NULL: a plan needs no values
                return try Row.fetchAll(statement).map { $0["detail"] as String }
            }
            for line in plan where line.hasPrefix("SEARCH jobs") || line.hasPrefix("SCAN jobs") {
                let history = ["jobs_handler", "jobs_queue", "jobs_stopped"].contains { line.contains($0) }
                let wholeTable = line.hasPrefix("SCAN jobs") && !Self.allowed.contains { line.contains($0) }
                #expect(!history && !wholeTable, "\(line) in: \(sql)")
            }
        }
    }
}
