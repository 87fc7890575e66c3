import WorkerTestKit
import Foundation
import WorkerStore
import GRDB
@testable import Journal
import Testing

/// `jobPage`: order, keyset cursor, `createdSince`, text search, and the indexes a page is read through.
@Suite struct JobFindingTests {
    /// Every id, visited by pages of `limit` following `next`; every page but the last is full.
    func pages(_ journal: Journal, _ filter: JobFilter) async throws -> (ids: [Int64], pages: Int) {
        let (ids, sizes) = try await JobPages.walk(filter) { try await journal.jobPage($0) }
        #expect(sizes.dropLast().allSatisfy { $0 == filter.limit })
        return (ids, sizes.count)
    }

    @Test func pagingVisitsEachJobOnceInBothOrders() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let ids = try await fixture.journal.enqueue(batch: (0..<23).map { NewJob(handler: $0 % 3 == 0 ? "a" : "b") }).map(\.id)
        let forward = try await pages(fixture.journal, JobFilter(limit: 5))
        #expect(forward.ids == ids)
        #expect(forward.pages == 5)
        let backward = try await pages(fixture.journal, JobFilter(limit: 5, newestFirst: true))
        #expect(backward.ids == ids.reversed())
        let handlerA = try await pages(fixture.journal, JobFilter(handler: "a", limit: 2, newestFirst: true))
        #expect(handlerA.ids == ids.enumerated().filter { $0.offset % 3 == 0 }.map(\.element).reversed())
        // A page that ends exactly at the last job says there is no next one.
        let exact = try await fixture.journal.jobPage(JobFilter(limit: 23))
        #expect(exact.jobs.count == 23 && exact.next == nil)
        #expect(try await fixture.journal.jobPage(JobFilter(limit: 22)).next == ids[21])
    }

    @Test func sinceAndSearch() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let old = try await fixture.enqueue(payload: #"{"note": "100% done_1"}"#)
        fixture.clock.advance(seconds: 3600)
        let cutoff = fixture.clock.now
        let new = try await fixture.enqueue(payload: #"{"note": "100 percent done1"}"#)
        let failed = try await fixture.job(in: .dead)  // last error "fatal"
        #expect(try await fixture.journal.jobs(JobFilter(createdSince: cutoff)).map(\.id) == [new, failed])
        #expect(try await fixture.journal.jobs(JobFilter(createdSince: cutoff + 1)).isEmpty)
        // % and _ are the text itself, not LIKE wildcards.
        #expect(try await fixture.journal.jobs(JobFilter(search: "100%")).map(\.id) == [old])
        #expect(try await fixture.journal.jobs(JobFilter(search: "done_")).map(\.id) == [old])
        #expect(try await fixture.journal.jobs(JobFilter(search: "fatal")).map(\.id) == [failed])
        #expect(try await fixture.journal.jobs(JobFilter(search: "FATAL")).isEmpty)
        #expect(try await fixture.journal.jobs(JobFilter(search: "done", newestFirst: true)).map(\.id) == [new, old])
        let full = try await fixture.enqueue("disk")
        #expect(try await fixture.claim(1, handlers: ["disk"]) == [full])
        _ = try await fixture.journal.finish(job: full, worker: fixture.worker, outcome: .failed(error: "disk 99%_full", retryable: false))
        #expect(try await fixture.journal.jobs(JobFilter(search: "%_")).map(\.id) == [full])
        #expect(try await fixture.journal.jobs(JobFilter(search: "%")).map(\.id) == [old, full])
        #expect(try await fixture.journal.jobs(JobFilter(state: .dead, search: "_")).map(\.id) == [full])
    }

    /// The plans SQLite makes for a page: by handler, queue, dead or cancelled on an index in id order (the
    /// page costs its size, not the history), never a scan of the table or a sort.
    @Test func pagesByHandlerQueueOrStoppedStateUseAnIndex() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        _ = try await fixture.enqueue()
        let database = try DatabaseQueue(path: fixture.directory.file("worker.sqlite3"))
        let filters: [(JobFilter, String)] = [
            (JobFilter(after: 10), "INTEGER PRIMARY KEY"),
            (JobFilter(newestFirst: true, after: 10), "INTEGER PRIMARY KEY"),
            (JobFilter(handler: "h", after: 10), "jobs_handler"),
            (JobFilter(handler: "h", newestFirst: true, after: 10), "jobs_handler"),
            (JobFilter(queue: "q", after: 10), "jobs_queue"),
            (JobFilter(state: .dead, after: 10), "jobs_stopped"),
            (JobFilter(state: .cancelled, newestFirst: true), "jobs_stopped"),
            (JobFilter(state: .dead, handler: "h", after: 10), "jobs_"),
            (JobFilter(after: 10, schedule: "nightly"), "jobs_schedule"),
            (JobFilter(newestFirst: true, schedule: "nightly"), "jobs_schedule"),
        ]
        for (filter, index) in filters {
            let (sql, arguments) = filter.pageQuery()
            let plan = try await database.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
            }
            let jobsLine = plan.first { $0.contains(" jobs ") } ?? ""
            #expect(jobsLine.hasPrefix("SEARCH jobs USING") && jobsLine.contains(index), "\(filter): \(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(filter): \(plan)")
        }
    }

    /// A page of a state whose partial index is not in id order (running, interrupted, queued, retrying,
    /// scheduled) reads that index when it holds few jobs, not the table in id order (with a million finished jobs
    /// and ten running, the walk read the million); with many, the walk in id order finds a page soon.
    @Test func pagesOfAFewUnfinishedJobsReadTheirStatesIndex() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        for _ in 0..<3 { _ = try await fixture.job(in: .completed) }
        let running = try await fixture.job(in: .running)
        let queued = try await fixture.enqueue()
        let database = try DatabaseQueue(path: fixture.directory.file("worker.sqlite3"))
        for (filter, index) in [(JobFilter(state: .running), "jobs_running"), (JobFilter(state: .queued, newestFirst: true), "jobs_ready"),
                                (JobFilter(state: .interrupted, after: 1), "jobs_interrupted"), (JobFilter(state: .scheduled), "jobs_scheduled")] {
            let plan = try await database.read { db in
                let (sql, arguments) = filter.pageQuery(indexedBy: try filter.pageIndex(db))
                return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
            }
            #expect(plan.contains { $0.hasPrefix("SCAN jobs USING INDEX \(index)") || $0.hasPrefix("SEARCH jobs USING INDEX \(index)") }, "\(filter): \(plan)")
        }
        #expect(try await fixture.journal.jobs(JobFilter(state: .running)).map(\.id) == [running])
        #expect(try await fixture.journal.jobs(JobFilter(state: .queued)).map(\.id) == [queued])
        let completedIndex = try await database.read { db in try JobFilter(state: .completed).pageIndex(db) }
        #expect(completedIndex == nil)
        #expect(try await fixture.journal.plan(.cancel, JobFilter(state: .running)).accepted.map(\.id) == [running])
    }
}
