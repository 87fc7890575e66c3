import Foundation
import PostgresNIO
@testable import PostgresJournal
import Synchronization
import Testing
import WorkerStore
import WorkerTestKit

/// Enqueueing into PostgreSQL: the SQLite journal's checks, states and unique keys, set-based, racing producers,
/// and an application's own transaction.
@Suite struct PGEnqueueTests {
    @Test func aJobStartsQueuedWithItsFieldsAndDefaults() async throws {
        let fixture = try await OpsFixture("enq")
        let before = try await fixture.now()
        let (job, created) = try await fixture.journal.enqueue(NewJob(handler: "sleep", payload: #"{"ms": 5}"#, priority: 3))
        let after = try await fixture.now()
        #expect(created)
        #expect(job.state == .queued)
        #expect(job.payload == #"{"ms": 5}"#)
        #expect(job.queue == "default" && job.priority == 3 && job.attempts == 0 && job.maxAttempts == 25)
        #expect(job.runAt >= before && job.runAt <= after && job.createdAt == job.runAt && job.updatedAt == job.runAt)
        let events = try await fixture.events(job.id)
        #expect(events.count == 1)
        #expect(events[0].from == nil && events[0].to == .queued && events[0].attempt == 0 && events[0].workerID == nil)
        #expect(events[0].pid == getpid() && events[0].reason == "enqueued" && events[0].at == job.createdAt)
        await fixture.close()
    }

    @Test func aFutureStartIsScheduledAndAPastOneQueued() async throws {
        let fixture = try await OpsFixture("enq")
        let now = try await fixture.now()
        let later = try await fixture.journal.enqueue(NewJob(handler: "noop", runAt: now + 60_000_000)).job
        let earlier = try await fixture.journal.enqueue(NewJob(handler: "noop", runAt: now - 60_000_000)).job
        #expect(later.state == .scheduled && later.runAt == now + 60_000_000)
        #expect(earlier.state == .queued && earlier.runAt == now - 60_000_000)
        #expect(try await fixture.events(later.id).map(\.to) == [.scheduled])
        await fixture.close()
    }

    @Test func theSameKeyReturnsTheUnfinishedJobUntilItFinishes() async throws {
        let fixture = try await OpsFixture("enq")
        let first = try await fixture.journal.enqueue(NewJob(handler: "noop", uniqueKey: "report-42"))
        let again = try await fixture.journal.enqueue(NewJob(handler: "noop", payload: #"{"other":1}"#, uniqueKey: "report-42"))
        #expect(first.created && !again.created)
        #expect(again.job.id == first.job.id && again.job.payload == "{}")
        #expect(try await fixture.count() == 1)
        // A running job still holds the key; a completed one frees it.
        try await fixture.drive(first.job.id, to: .running)
        #expect(try await fixture.journal.enqueue(NewJob(handler: "noop", uniqueKey: "report-42")).created == false)
        try await fixture.drive(first.job.id, to: .completed)
        let fresh = try await fixture.journal.enqueue(NewJob(handler: "noop", uniqueKey: "report-42"))
        #expect(fresh.created && fresh.job.id != first.job.id)
        await fixture.close()
    }

    @Test func duplicateKeysInsideOneBatchCollapseToOneJob() async throws {
        let fixture = try await OpsFixture("enq")
        let held = try await fixture.enqueue(key: "b")
        let results = try await fixture.journal.enqueue(batch: [
            NewJob(handler: "noop", uniqueKey: "a"), NewJob(handler: "noop", uniqueKey: "a"), NewJob(handler: "noop"),
            NewJob(handler: "noop", uniqueKey: "b"), NewJob(handler: "noop", uniqueKey: "a"),
        ])
        #expect(results.map(\.created) == [true, false, true, false, false])
        #expect(results[0].id == results[1].id && results[4].id == results[0].id && results[3].id == held)
        #expect(results[2].id > results[0].id)
        #expect(try await fixture.events(results[0].id).count == 1)
        #expect(try await fixture.count() == 3)
        #expect(try await fixture.sql("SELECT count(*) FROM job_events") == "3")
        await fixture.close()
    }

    @Test func aBatchWithOneBadPayloadWritesNothingAndNamesIt() async throws {
        let fixture = try await OpsFixture("enq")
        _ = try await fixture.enqueue()
        var batch = (0..<500).map { NewJob(handler: "noop", payload: #"{"n":\#($0)}"#) }
        batch[321].payload = #"{"n": oops}"#
        do {
            _ = try await fixture.journal.enqueue(batch: batch)
            Issue.record("a bad payload was accepted")
        } catch let error as JournalError {
            #expect(error.code == .invalidPayload)
            #expect(error.batchIndex == 321)
            #expect(error.description == "job 322 of the batch: payload is not valid JSON: fix it (e.g. --payload '{\"ms\": 100}')")
        }
        #expect(try await fixture.count() == 1)
        #expect(try await fixture.sql("SELECT count(*) FROM job_events") == "1")
        await fixture.close()
    }

    @Test(arguments: refusedEnqueueInput)
    func badInputIsRefusedWithItsCode(handler: String, payload: String, code: JournalError.Code) async throws {
        let fixture = try await OpsFixture("enq")
        do {
            _ = try await fixture.journal.enqueue(NewJob(handler: handler, payload: payload))
            Issue.record("accepted handler \(handler.debugDescription) with payload \(payload.debugDescription)")
        } catch let error as JournalError {
            #expect(error.code == code)
            #expect(error.batchIndex == nil)  // alone, a job is not "job 1 of the batch"
        }
        #expect(try await fixture.count() == 0)
        await fixture.close()
    }

    @Test func badFieldsAreRefusedBeforeTheServerSeesThem() async throws {
        let fixture = try await OpsFixture("enq")
        #expect(await journalErrorCode { _ = try await fixture.journal.enqueue(NewJob(handler: "noop", maxAttempts: 0)) } == .invalidArgument)
        #expect(await journalErrorCode { _ = try await fixture.journal.enqueue(NewJob(handler: "noop", uniqueKey: "")) } == .invalidArgument)
        #expect(await journalErrorCode { _ = try await fixture.journal.enqueue(NewJob(handler: "noop", priority: Int(Int32.max) + 1)) } == .invalidArgument)
        #expect(try await fixture.count() == 0)
        await fixture.close()
    }

    @Test func anyJSONValueIsAPayloadKeptAsWritten() async throws {
        let fixture = try await OpsFixture("enq")
        for payload in ["null", "42", #""text""#, "[1,2]", #"{"b": 1,  "a":{"b":[true,false,null]}}"#] {
            #expect(try await fixture.journal.enqueue(NewJob(handler: "noop", payload: payload)).job.payload == payload)
        }
        await fixture.close()
    }

    @Test func payloadsOverTheLimitAreRefused() async throws {
        let fixture = try await OpsFixture("enq") { $0.maxPayloadBytes = 100 }
        let fits = "\"" + String(repeating: "x", count: 98) + "\""
        #expect(try await fixture.journal.enqueue(NewJob(handler: "noop", payload: fits)).created)
        do {
            _ = try await fixture.journal.enqueue(batch: [NewJob(handler: "noop"), NewJob(handler: "noop", payload: fits + " ")])
            Issue.record("a payload over the limit was accepted")
        } catch let error as JournalError {
            #expect(error.code == .payloadTooLarge && error.batchIndex == 1)
        }
        #expect(try await fixture.count() == 1)
        await fixture.close()
    }

    @Test func nestingDeeperThan1000LevelsIsRefusedAsSuch() async throws {
        let fixture = try await OpsFixture("enq")
        let brackets = "\"" + String(repeating: "[{\\\"", count: 2000) + "\""
        let deepest = String(repeating: "[", count: 1000) + brackets + String(repeating: "]", count: 1000)
        #expect(try await fixture.journal.enqueue(NewJob(handler: "noop", payload: deepest)).created)
        let tooDeep = "[" + deepest + "]"
        do {
            _ = try await fixture.journal.enqueue(batch: [NewJob(handler: "noop"), NewJob(handler: "noop", payload: tooDeep)])
            Issue.record("a payload nested 1001 levels deep was accepted")
        } catch let error as JournalError {
            #expect(error.code == .invalidPayload && error.batchIndex == 1)
            #expect(error.message == "payload is nested deeper than 1000 levels: flatten it, or store it elsewhere and pass a reference")
        }
        #expect(try await fixture.count() == 1)
        await fixture.close()
    }

    @Test func aBatchOfTenThousandIsOneCallWithEveryEvent() async throws {
        let fixture = try await OpsFixture("enq")
        let batch = (0..<10_000).map { NewJob(handler: "bulk", payload: #"{"n":\#($0)}"#, uniqueKey: $0 % 10 == 0 ? "k\($0)" : nil) }
        let results = try await fixture.journal.enqueue(batch: batch)
        #expect(results.count == 10_000 && results.allSatisfy(\.created))
        #expect(Set(results.map(\.id)).count == 10_000)
        #expect(results.map(\.id) == results.map(\.id).sorted())  // ids follow the batch's order
        #expect(try await fixture.count("handler = 'bulk' AND state = 'queued'") == 10_000)
        #expect(try await fixture.sql("SELECT count(*) FROM job_events WHERE reason = 'enqueued'") == "10000")
        #expect(try await fixture.job(results[4321].id).payload == #"{"n":4321}"#)
        // Again: every keyed job is found held, the others are new.
        let again = try await fixture.journal.enqueue(batch: batch)
        #expect(again.filter(\.created).count == 9_000)
        #expect(zip(again, results).allSatisfy { $0.created || $0.id == $1.id })
        await fixture.close()
    }

    /// Many producers (separate journals, separate pools) enqueue one key at once, round after round: exactly one
    /// creates it, and every one gets that job.
    @Test func racingProducersOnOneKeyCreateOneJob() async throws {
        let fixture = try await OpsFixture("enqrace")
        let producers = 12
        var journals: [PostgresJournal] = []
        for _ in 0..<producers {
            var options = PostgresJournalOptions.forTests
            options.poolSize = 2
            journals.append(try await PostgresJournal.open(fixture.location, options: options))
        }
        for round in 0..<15 {
            let key = "race-\(round)"
            let results = try await withThrowingTaskGroup(of: (id: Int64, created: Bool).self) { group in
                for journal in journals {
                    group.addTask {
                        let (job, created) = try await journal.enqueue(NewJob(handler: "race", uniqueKey: key))
                        return (job.id, created)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.filter(\.created).count == 1, "round \(round): \(results)")
            #expect(Set(results.map(\.id)).count == 1, "round \(round): \(results)")
        }
        // Batches with the same keys in different orders: each key is created once, and all agree on its job.
        let keys = (0..<40).map { "batch-\($0)" }
        let batches = try await withThrowingTaskGroup(of: [String: Enqueued].self) { group in
            for (index, journal) in journals.enumerated() {
                let order = index % 2 == 0 ? keys : keys.reversed()
                group.addTask {
                    let results = try await journal.enqueue(batch: order.map { NewJob(handler: "race", uniqueKey: $0) })
                    return Dictionary(uniqueKeysWithValues: zip(order, results))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for key in keys {
            let results = batches.map { $0[key]! }
            #expect(results.filter(\.created).count == 1, "\(key): \(results)")
            #expect(Set(results.map(\.id)).count == 1, "\(key): \(results)")
        }
        #expect(try await fixture.count("handler = 'race'") == 15 + keys.count)
        for journal in journals { await journal.close() }
        await fixture.close()
    }

    @Test func eachEnqueueWakesTheWorkersOnceAndTheLocalObserversToo() async throws {
        let fixture = try await OpsFixture("enqwake")
        let local = Mutex(0)
        fixture.journal.onNewWork { local.withLock { $0 += 1 } }
        let listener = try await Listener.start(fixture)
        _ = try await fixture.journal.enqueue(batch: (0..<300).map { NewJob(handler: "noop", queue: "q\($0 % 3)") })
        _ = try await fixture.journal.enqueue(NewJob(handler: "noop"))
        try await fixture.journal.rows("SELECT pg_notify('worker_jobs', 'marker')")
        #expect(try await listener.next(3) == ["n", "n", "marker"])  // one per transaction, not one per job
        #expect(local.withLock { $0 } == 2)
        try await listener.stop()
        await fixture.close()
    }

    /// Item 7: the application's transaction decides. Notifications arrive in commit order, so the markers tell
    /// that the rolled-back enqueue sent nothing and the committed one only at its commit.
    @Test func anEnqueueInTheApplicationsTransactionCommitsOrRollsBackWithIt() async throws {
        let fixture = try await OpsFixture("enqapp")
        let listener = try await Listener.start(fixture)
        let app = try await fixture.connection()
        let logger = fixture.journal.logger

        try await app.query("BEGIN", logger: logger)
        try await app.query("CREATE TABLE orders (id int)", logger: logger)
        let lost = try await PostgresJournal.enqueue([NewJob(handler: "rolled-back")], on: app)
        #expect(lost.count == 1 && lost[0].created)
        try await app.query("ROLLBACK", logger: logger)
        try await fixture.journal.rows("SELECT pg_notify('worker_jobs', 'after rollback')")

        try await app.query("BEGIN", logger: logger)
        try await app.query("CREATE TABLE orders (id int)", logger: logger)
        let kept = try await PostgresJournal.enqueue([NewJob(handler: "committed", uniqueKey: "order-1"), NewJob(handler: "committed")], on: app)
        #expect(try await fixture.count("handler = 'committed'") == 0)  // not visible before the commit
        try await fixture.journal.rows("SELECT pg_notify('worker_jobs', 'before commit')")
        try await app.query("COMMIT", logger: logger)

        #expect(try await listener.next(3) == ["after rollback", "before commit", "n"])
        #expect(try await fixture.exists(lost[0].id) == false)
        #expect(try await fixture.sql("SELECT count(*) FROM job_events WHERE job_id = \(lost[0].id)") == "0")
        #expect(try await fixture.exists(kept[0].id))
        #expect(try await fixture.exists(kept[1].id))
        #expect(try await fixture.events(kept[0].id).map(\.reason) == ["enqueued"])
        #expect(try await fixture.sql("SELECT to_regclass('orders') IS NOT NULL") == "t")

        // Refused input aborts the application's transaction: it rolls back, and nothing of it stays.
        try await app.query("BEGIN", logger: logger)
        try await app.query("INSERT INTO orders VALUES (2)", logger: logger)
        let code = await journalErrorCode {
            _ = try await PostgresJournal.enqueue([NewJob(handler: "committed"), NewJob(handler: "x", payload: "{oops")], on: app)
        }
        #expect(code == .invalidPayload)
        try await app.query("ROLLBACK", logger: logger)
        #expect(try await fixture.sql("SELECT count(*) FROM orders") == "0")
        #expect(try await fixture.count("handler = 'committed'") == 2)

        try await app.closeGracefully()
        try await listener.stop()
        await fixture.close()
    }
}

/// LISTEN worker_jobs on a connection of its own, as a worker does; collects the payloads.
final class Listener: Sendable {
    private let connection: PostgresConnection
    private let payloads: Payloads
    private let task: Task<Void, any Error>

    /// The payloads received so far.
    final class Payloads: Sendable {
        let list = Mutex<[String]>([])
    }

    private init(connection: PostgresConnection, payloads: Payloads, task: Task<Void, any Error>) {
        self.connection = connection
        self.payloads = payloads
        self.task = task
    }

    static func start(_ fixture: OpsFixture) async throws -> Listener {
        let connection = try await fixture.connection()
        let (ready, readySignal) = AsyncStream<Void>.makeStream()
        let payloads = Payloads()
        let task = Task {
            try await connection.listen(on: PostgresJournal.wakeChannel) { notifications in
                readySignal.yield()  // LISTEN is in effect
                for try await notification in notifications {
                    payloads.list.withLock { $0.append(notification.payload) }
                }
            }
        }
        for await _ in ready { break }
        return Listener(connection: connection, payloads: payloads, task: task)
    }

    /// The payloads once there are `count` of them, waiting for them (up to a minute: a loaded machine).
    func next(_ count: Int) async throws -> [String] {
        for _ in 0..<600 {
            let seen = payloads.list.withLock { $0 }
            if seen.count >= count { return seen }
            try await Task.sleep(for: .milliseconds(100))
        }
        return payloads.list.withLock { $0 }
    }

    func stop() async throws {
        task.cancel()
        try await connection.closeGracefully()
    }
}
