import Foundation
import PostgresNIO
@testable import PostgresJournal
import Testing
import WorkerStore
import WorkerTestKit

/// The plans PostgreSQL makes on a journal of 100,000 jobs, mostly finished: a page of `worker jobs` is read on the
/// index of its filter (the page costs its size, not the history), and what an idle worker or a
/// `/metrics` scrape asks reads only the partial indexes of unfinished jobs. Never a sequential scan of jobs.
@Suite struct PlanTests {
    /// A journal with 100,000 jobs (no events: plans only): 20 common handlers and 5 common queues, a rare handler
    /// and a rare queue (200 jobs each, across the whole id range), 92% completed, 2% dead, 1% each cancelled,
    /// queued, retrying, running, interrupted and scheduled; analysed as autovacuum would.
    static func bigJournal() async throws -> InspectFixture {
        let fixture = try await InspectFixture.open("plans")
        try await fixture.psql("""
            INSERT INTO jobs (handler, queue, state, payload, attempts, max_attempts, run_at, created_at, updated_at,
                              finished_at, worker_id, schedule)
            SELECT CASE WHEN i % 500 = 250 THEN 'rare' ELSE 'h' || (i % 20) END,
                   CASE WHEN i % 500 = 100 THEN 'slow' ELSE 'q' || (i % 5) END, s.state, '{"n": ' || i || '}', 1, 3, i, i, i,
                   CASE WHEN s.state IN ('completed', 'dead', 'cancelled') THEN i END,
                   CASE WHEN s.state = 'running' THEN 'w1' END, CASE WHEN i % 1000 = 500 THEN 'nightly' END
            FROM generate_series(1, 100000) AS i,
                 LATERAL (SELECT CASE i % 100 WHEN 0 THEN 'dead' WHEN 1 THEN 'dead' WHEN 2 THEN 'cancelled'
                                 WHEN 3 THEN 'queued' WHEN 4 THEN 'retrying' WHEN 5 THEN 'running'
                                 WHEN 6 THEN 'interrupted' WHEN 7 THEN 'scheduled' ELSE 'completed' END AS state) AS s;
            ANALYZE jobs;
            """)
        return fixture
    }

    /// The plan of `query`, one line per node.
    static func plan(_ journal: PostgresJournal, _ query: PostgresQuery) async throws -> [String] {
        try await journal.rows(PostgresQuery(unsafeSQL: "EXPLAIN " + query.sql, binds: query.binds)).map { try $0.decode(String.self) }
    }

    /// How many rows of jobs running `query` read (returned by its scans of jobs plus those their filters dropped),
    /// from `EXPLAIN ANALYZE`: counts, not times.
    static func rowsRead(_ journal: PostgresJournal, _ query: PostgresQuery) async throws -> Int {
        let lines = try await journal.rows(PostgresQuery(unsafeSQL: "EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) " + query.sql, binds: query.binds))
            .map { try $0.decode(String.self) }
        var total = 0
        var inJobsScan = false
        for line in lines {
            if line.contains("(actual ") {  // a plan node: the lines below it, up to the next node, are its details
                inJobsScan = line.contains(" on jobs ")
                if inJobsScan, let rows = number(after: "rows=", in: line) { total += rows * (number(after: "loops=", in: line) ?? 1) }
            } else if inJobsScan {
                total += number(after: "Rows Removed by Filter: ", in: line) ?? 0
                total += number(after: "Rows Removed by Index Recheck: ", in: line) ?? 0
            }
        }
        return total
    }

    static func number(after marker: String, in line: String) -> Int? {
        guard let range = line.range(of: marker) else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    @Test func pagesReadTheIndexOfTheirFilterInIDOrder() async throws {
        let fixture = try await Self.bigJournal()
        // The filters with an index of their own: the plan reads it (from the cursor on, in id order, or all of a
        // rare handler's few jobs), and running the page reads a page's worth of rows, not the table. For a common
        // handler or queue the primary key with a filter is as good: it finds a page of matches within a few
        // thousand rows.
        let indexed: [(JobFilter, [String])] = [
            (JobFilter(after: 50_000), ["jobs_pkey"]),
            (JobFilter(newestFirst: true, after: 50_000), ["jobs_pkey"]),
            (JobFilter(handler: "rare", after: 50_000), ["jobs_handler"]),
            (JobFilter(handler: "rare", newestFirst: true, after: 50_000), ["jobs_handler"]),
            (JobFilter(queue: "slow", after: 50_000), ["jobs_queue"]),
            (JobFilter(queue: "slow", newestFirst: true), ["jobs_queue"]),
            (JobFilter(handler: "h3", after: 50_000), ["jobs_handler", "jobs_pkey"]),
            (JobFilter(queue: "q1", newestFirst: true), ["jobs_queue", "jobs_pkey"]),
            (JobFilter(state: .dead, after: 50_000), ["jobs_stopped"]),
            (JobFilter(state: .cancelled, newestFirst: true), ["jobs_stopped", "jobs_cancelled"]),
            (JobFilter(after: 50_000, schedule: "nightly"), ["jobs_schedule"]),
            (JobFilter(newestFirst: true, schedule: "nightly"), ["jobs_schedule"]),
            (JobFilter(state: .completed, after: 50_000), ["jobs_pkey"]),
            (JobFilter(state: .dead, handler: "rare"), ["jobs_handler", "jobs_stopped", "jobs_dead"]),
        ]
        for (filter, indexes) in indexed {
            let plan = try await Self.plan(fixture.journal, JobFilterSQL.page(filter))
            #expect(plan.contains { line in indexes.contains { line.contains(" using \($0) on jobs") || line.contains("Index Scan on \($0) ") } },
                    "\(filter): \(plan)")
            #expect(!plan.contains { $0.contains("Seq Scan on jobs") }, "\(filter): \(plan)")
            let read = try await Self.rowsRead(fixture.journal, JobFilterSQL.page(filter))
            #expect(read < 5_000, "\(filter) read \(read) rows: \(plan)")
        }
        // Every other combination of the fields: on some index, never the whole table.
        var filters: [JobFilter] = []
        for state in [nil] + JobState.allCases.map(Optional.some) {
            for (handler, queue) in [(nil, nil), ("h3", nil), (nil, "q1"), ("h3", "q3"), ("rare", nil), ("rare", "slow")] as [(String?, String?)] {
                filters.append(JobFilter(state: state, handler: handler, queue: queue, after: 10))
                filters.append(JobFilter(state: state, handler: handler, queue: queue, newestFirst: true))
            }
        }
        filters += [
            JobFilter(createdSince: 90_000), JobFilter(search: "\"n\": 77"), JobFilter(state: .dead, search: "x"),
            JobFilter(handler: "h1", createdSince: 10, search: "1", newestFirst: true, after: 99_000),
        ]
        for filter in filters {
            let plan = try await Self.plan(fixture.journal, JobFilterSQL.page(filter))
            #expect(!plan.contains { $0.contains("Seq Scan on jobs") }, "\(filter): \(plan)")
        }
        await fixture.close()
    }

    @Test func theIdleLoopAndMetricsReadOnlyUnfinishedJobs() async throws {
        let fixture = try await Self.bigJournal()
        let queries: [(String, PostgresQuery)] = [
            ("activeJobCount", PostgresJournal.activeJobCountQuery),
            ("activeJobsByHandler", PostgresJournal.activeJobsByHandlerQuery(queues: ["q1", "q2"])),
            ("activeJobsByHandler all", PostgresJournal.activeJobsByHandlerQuery(queues: [])),
            ("nextRunAt", PostgresJournal.nextRunAtQuery),
            ("unfinishedCount", PostgresJournal.unfinishedCountQuery([1, 2, 3, 50_000])),
            ("waitingHandlers", PostgresJournal.waitingHandlersQuery(notIn: ["h1", "h2"])),
            ("waitingByHandler", PostgresJournal.waitingByHandlerQuery),
            ("depth", PostgresQuery(unsafeSQL: PostgresJournal.depthSQL)),
            ("countsExceptCompleted", PostgresQuery(unsafeSQL: PostgresJournal.countsExceptCompletedSQL)),
            ("oldestQueuedAge", PostgresQuery(unsafeSQL: PostgresJournal.oldestQueuedSQL(age: true))),
        ]
        for (name, query) in queries {
            let plan = try await Self.plan(fixture.journal, query)
            let history = plan.filter { line in
                line.contains("Seq Scan on jobs") || ["jobs_handler", "jobs_queue"].contains { line.contains(" \($0) ") }
            }
            #expect(history.isEmpty, "\(name): \(plan)")
        }
        await fixture.close()
    }
}
