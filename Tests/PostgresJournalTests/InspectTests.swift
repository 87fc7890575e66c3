import Foundation
import PostgresNIO
@testable import PostgresJournal
import Testing
import WorkerStore
import WorkerTestKit

/// Reading jobs on PostgreSQL: one job, pages (order, keyset cursor, every filter field), events, steps, stats and
/// the applied migrations, as the SQLite journal's JobFindingTests check them.
@Suite struct InspectTests {
    /// Every id, visited by pages of `limit` following `next`; every page but the last is full.
    func pages(_ journal: PostgresJournal, _ filter: JobFilter) async throws -> (ids: [Int64], pages: Int) {
        let (ids, sizes) = try await JobPages.walk(filter) { try await journal.jobPage($0) }
        #expect(sizes.dropLast().allSatisfy { $0 == filter.limit })
        return (ids, sizes.count)
    }

    @Test func pagingVisitsEachJobOnceInBothOrders() async throws {
        let fixture = try await InspectFixture.open("paging")
        var ids: [Int64] = []
        for index in 0..<23 { ids.append(try await fixture.job(handler: index % 3 == 0 ? "a" : "b")) }
        let journal = fixture.journal
        let forward = try await pages(journal, JobFilter(limit: 5))
        #expect(forward.ids == ids)
        #expect(forward.pages == 5)
        let backward = try await pages(journal, JobFilter(limit: 5, newestFirst: true))
        #expect(backward.ids == ids.reversed())
        let handlerA = try await pages(journal, JobFilter(handler: "a", limit: 2, newestFirst: true))
        #expect(handlerA.ids == ids.enumerated().filter { $0.offset % 3 == 0 }.map(\.element).reversed())
        // A page that ends exactly at the last job says there is no next one.
        let exact = try await journal.jobPage(JobFilter(limit: 23))
        #expect(exact.jobs.count == 23 && exact.next == nil)
        #expect(try await journal.jobPage(JobFilter(limit: 22)).next == ids[21])
        #expect(try await journal.jobPage(JobFilter(limit: 0)) == JobPage(jobs: [], next: nil))
        #expect(try await journal.jobPage(JobFilter(limit: Int.max)).jobs.count == 23)
        await #expect {
            try await journal.jobPage(JobFilter(limit: -1))
        } throws: { error in
            (error as? JournalError)?.code == .invalidArgument && (error as? JournalError)?.message == "limit is -1: pass --limit 0 or more"
        }
        await fixture.close()
    }

    @Test func everyFilterFieldSelects() async throws {
        let fixture = try await InspectFixture.open("filters")
        let queuedQ = try await fixture.job(.queued, handler: "a", queue: "q")
        let deadQ = try await fixture.job(.dead, handler: "a", queue: "q", lastError: "fatal")
        let deadDefault = try await fixture.job(.dead, handler: "b", lastError: "fatal")
        let cancelled = try await fixture.job(.cancelled, handler: "b", queue: "q")
        let running = try await fixture.job(.running, handler: "a")
        let journal = fixture.journal
        #expect(try await journal.jobs(JobFilter(state: .dead)).map(\.id) == [deadQ, deadDefault])
        #expect(try await journal.jobs(JobFilter(state: .dead, queue: "q")).map(\.id) == [deadQ])
        #expect(try await journal.jobs(JobFilter(state: .dead, handler: "b")).map(\.id) == [deadDefault])
        #expect(try await journal.jobs(JobFilter(queue: "q", newestFirst: true)).map(\.id) == [cancelled, deadQ, queuedQ])
        #expect(try await journal.jobs(JobFilter(handler: "a", queue: "default")).map(\.id) == [running])
        #expect(try await journal.jobs(JobFilter(state: .cancelled, newestFirst: true, after: cancelled)).isEmpty)
        #expect(try await journal.jobs(JobFilter(handler: "a", after: queuedQ)).map(\.id) == [deadQ, running])
        // A job read back whole: every column, and its worker and error.
        let job = try await journal.job(running)
        #expect(job.state == .running && job.handler == "a" && job.queue == "default" && job.attempts == 1 && job.workerID == "w1")
        #expect(try await journal.job(deadQ).lastError == "fatal")
        #expect(try await journal.job(deadQ).finishedAt != nil)
        await fixture.close()
    }

    @Test func sinceAndSearch() async throws {
        let fixture = try await InspectFixture.open("search")
        let now = try await fixture.journal.rows("SELECT worker_micros()")[0].decode(Int64.self)
        let cutoff = now - 1_000_000
        let old = try await fixture.job(payload: #"{"note": "100% done_1"}"#, createdAt: cutoff - 3_600_000_000)
        let new = try await fixture.job(payload: #"{"note": "100 percent done1"}"#, createdAt: cutoff)
        let failed = try await fixture.job(.dead, lastError: "fatal", createdAt: cutoff + 1)
        let journal = fixture.journal
        #expect(try await journal.jobs(JobFilter(createdSince: cutoff)).map(\.id) == [new, failed])
        #expect(try await journal.jobs(JobFilter(createdSince: cutoff + 2)).isEmpty)
        // % and _ are the text itself, not LIKE wildcards; case counts.
        #expect(try await journal.jobs(JobFilter(search: "100%")).map(\.id) == [old])
        #expect(try await journal.jobs(JobFilter(search: "done_")).map(\.id) == [old])
        #expect(try await journal.jobs(JobFilter(search: "fatal")).map(\.id) == [failed])
        #expect(try await journal.jobs(JobFilter(search: "FATAL")).isEmpty)
        #expect(try await journal.jobs(JobFilter(search: "done", newestFirst: true)).map(\.id) == [new, old])
        let full = try await fixture.job(.dead, handler: "disk", lastError: "disk 99%_full")
        #expect(try await journal.jobs(JobFilter(search: "%_")).map(\.id) == [full])
        #expect(try await journal.jobs(JobFilter(search: "%")).map(\.id) == [old, full])
        #expect(try await journal.jobs(JobFilter(state: .dead, search: "_")).map(\.id) == [full])
        // Quotes and backslashes are text too (bound, never written into the statement).
        let quoted = try await fixture.job(payload: #"{"q": "it's \\ here"}"#)
        #expect(try await journal.jobs(JobFilter(search: #"it's \\"#)).map(\.id) == [quoted])
        await fixture.close()
    }

    @Test func eventsStepsAndMissingJobs() async throws {
        let fixture = try await InspectFixture.open("events")
        let id = try await fixture.job(.completed)
        let events = try await fixture.journal.events(job: id)
        #expect(events.map(\.to) == [.queued, .running, .completed])
        #expect(events.map(\.from) == [nil, .queued, .running])
        #expect(events.map(\.attempt) == [0, 1, 1])
        #expect(events.allSatisfy { $0.jobID == id && $0.pid == 4242 })
        #expect(events.map(\.id) == events.map(\.id).sorted())
        for missing in [
            { _ = try await fixture.journal.job(id + 100) }, { _ = try await fixture.journal.events(job: id + 100) },
        ] as [() async throws -> Void] {
            await #expect {
                try await missing()
            } throws: { error in
                (error as? JournalError)?.code == .jobNotFound && "\(error)".contains("no job with id \(id + 100)")
            }
        }
        try await fixture.psql("""
            INSERT INTO job_steps (job_id, name, attempt, started_at, completed_at, result) VALUES
                (\(id), 'b', 1, 10, 11, '\\x6f6b'), (\(id), 'a', 1, 10, NULL, NULL), (\(id), 'first', 1, 5, 6, NULL);
            INSERT INTO job_steps (job_id, name, attempt, started_at, failed_at, failed_attempt, error) VALUES
                (\(id), 'z', 1, 20, 21, 1, 'boom');
            """)
        let steps = try await fixture.journal.steps(job: id)
        #expect(steps.map(\.name) == ["first", "a", "b", "z"])
        #expect(steps[2].result == Data("ok".utf8) && steps[2].completedAt == 11)
        #expect(steps[1].completedAt == nil && steps[1].result == nil)
        #expect(steps[3].failedAt == 21 && steps[3].failedAttempt == 1 && steps[3].error == "boom")
        #expect(try await fixture.journal.steps(job: id + 100).isEmpty)
        await fixture.close()
    }

    @Test func statsHaveEveryStateAndMigrationsAreListed() async throws {
        let fixture = try await InspectFixture.open("stats")
        #expect(try await fixture.journal.stats() == Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) }))
        try await fixture.job(.dead)
        try await fixture.job(.dead)
        try await fixture.job(.scheduled)
        let stats = try await fixture.journal.stats()
        #expect(stats.count == JobState.allCases.count)
        #expect(stats[.dead] == 2 && stats[.scheduled] == 1 && stats[.queued] == 0)
        #expect(try await fixture.journal.appliedMigrations() == EmbeddedPostgresMigrations.all.map(\.name))
        await fixture.close()
    }
}
