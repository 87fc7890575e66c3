import Foundation
import Journal
import PostgresJournal
import Synchronization
import Testing
import WorkerStore
import WorkerTestKit

/// A fresh, empty store of one kind, with a registered live worker `w1`, through the `JobStore` API only.
struct StoreFixture: Sendable {
    let kind: StoreKind
    let store: any JobStore
    let worker = "w1"
    /// Opens another store object on the same journal (another process's view, its own connections).
    let reopen: @Sendable () async throws -> any JobStore
    private let cleanup: @Sendable () async -> Void

    static func make(_ kind: StoreKind, registering: Bool = true) async throws -> StoreFixture {
        let fixture: StoreFixture
        switch kind {
        case .sqlite:
            let directory = try TemporaryDirectory("contract")
            let path = directory.file("worker.sqlite3")
            let open: @Sendable () async throws -> any JobStore = {
                var options = JournalOptions()
                options.random = { 0.5 }
                return try Journal(path: path, options: options)
            }
            fixture = StoreFixture(kind: kind, store: try await open(), reopen: open, cleanup: { directory.remove() })
        case .postgres:
            let url = try await PostgresTestServer.shared.database("contract")
            let opened = Opened()
            let open: @Sendable () async throws -> any JobStore = {
                var options = PostgresJournalOptions()
                options.random = { 0.5 }
                options.connectTimeout = .seconds(60)  // dozens of tests connect at once on a loaded machine
                options.statementTimeout = .seconds(120)
                let journal = try await PostgresJournal.open(try PostgresLocation(url: url), options: options)
                opened.add(journal)
                return journal
            }
            fixture = StoreFixture(kind: kind, store: try await open(), reopen: open, cleanup: { await opened.closeAll() })
        }
        if registering { try await fixture.register(fixture.worker) }
        return fixture
    }

    func register(_ id: String, on store: (any JobStore)? = nil) async throws {
        try await (store ?? self.store).register(WorkerRegistration(id: id, pid: 4242, host: "test", processStartedAt: nil, version: "t", handlers: []))
    }

    func close() async { await cleanup() }

    func enqueue(
        _ handler: String = "noop", payload: String = "{}", priority: Int = 0, queue: String = "default",
        runAt: Micros? = nil, maxAttempts: Int? = nil, key: String? = nil
    ) async throws -> Int64 {
        try await store.enqueue(NewJob(
            handler: handler, payload: payload, queue: queue, priority: priority, runAt: runAt, maxAttempts: maxAttempts,
            uniqueKey: key)).job.id
    }

    func claim(_ limit: Int = 1, queues: [String] = [], handlers: [String]? = nil, worker: String? = nil, on store: (any JobStore)? = nil) async throws -> [Job] {
        try await (store ?? self.store).finishAndClaim(
            finished: [], claim: ClaimRequest(worker: worker ?? self.worker, limit: limit, queues: queues, handlers: handlers)).claimed
    }

    func finish(_ id: Int64, _ outcome: JobOutcome, worker: String? = nil) async throws -> Result<JobState, JournalError> {
        try await store.finish(batch: [(job: id, outcome: outcome)], worker: worker ?? self.worker)[0]
    }

    /// A job driven through the API into `state`.
    func job(in state: JobState) async throws -> Int64 {
        switch state {
        case .scheduled:
            return try await enqueue(runAt: WallClock.system.now() + 3_600_000_000)
        case .queued:
            return try await enqueue()
        case .cancelled:
            let id = try await enqueue()
            _ = try await store.cancel(job: id)
            return id
        default:
            let handler = "only-\(state.rawValue)"
            let id = try await enqueue(handler)
            let claimed = try await claim(1, handlers: [handler]).map(\.id)
            guard claimed == [id] else { throw JournalError(.internalError, "fixture claimed \(claimed), not job \(id)") }
            switch state {
            case .retrying: _ = try await finish(id, .failed(error: "boom"))
            case .interrupted: _ = try await finish(id, .interrupted(reason: "deadline"))
            case .completed: _ = try await finish(id, .completed)
            case .dead: _ = try await finish(id, .failed(error: "fatal", retryable: false))
            default: break
            }
            return id
        }
    }
}

/// The PostgreSQL journals a fixture opened, to close at its end.
private final class Opened: Sendable {
    private let journals = Mutex<[PostgresJournal]>([])

    func add(_ journal: PostgresJournal) { journals.withLock { $0.append(journal) } }

    func closeAll() async {
        let all = journals.withLock { list in defer { list = [] }; return list }
        for journal in all { await journal.close() }
    }
}
