import Foundation
import Journal
import WorkerStore
import WorkerTestKit

/// A journal in a fresh directory, on a manual clock, with a registered worker `w1`.
struct Fixture {
    let directory: TemporaryDirectory
    let clock: ManualClock
    let journal: Journal
    let worker = "w1"

    init(_ adjust: (inout JournalOptions) -> Void = { _ in }) async throws {
        directory = try TemporaryDirectory("journal")
        clock = ManualClock()
        var options = JournalOptions()
        options.clock = clock.wallClock
        options.random = { 0.5 }  // jitter factor exactly 1
        adjust(&options)
        journal = try Journal(path: directory.file("worker.sqlite3"), options: options)
        try await journal.register(WorkerRegistration(id: worker, pid: 4242, host: "test", processStartedAt: nil, version: "t"))
    }

    func enqueue(_ handler: String = "noop", payload: String = "{}", priority: Int = 0, queue: String = "default",
                 runAt: Micros? = nil, maxAttempts: Int? = nil, key: String? = nil) async throws -> Int64 {
        try await journal.enqueue(NewJob(
            handler: handler, payload: payload, queue: queue, priority: priority, runAt: runAt, maxAttempts: maxAttempts,
            uniqueKey: key)).job.id
    }

    func claim(_ limit: Int = 1, queues: [String] = [], handlers: [String]? = nil) async throws -> [Int64] {
        try await journal.claim(ClaimRequest(worker: worker, limit: limit, queues: queues, handlers: handlers)).map(\.id)
    }

    /// A job driven through the API into `state`.
    func job(in state: JobState) async throws -> Int64 {
        switch state {
        case .scheduled:
            return try await enqueue(runAt: clock.now + 60_000_000)
        case .queued:
            return try await enqueue()
        case .cancelled:
            let id = try await enqueue()
            _ = try await journal.cancel(job: id)
            return id
        default:
            let handler = "only-\(state.rawValue)"
            let id = try await enqueue(handler)
            let claimed = try await claim(1, handlers: [handler])
            guard claimed == [id] else { throw JournalError(.internalError, "fixture claimed \(claimed), not job \(id)") }
            switch state {
            case .running: break
            case .retrying: _ = try await journal.finish(job: id, worker: worker, outcome: .failed(error: "boom"))
            case .interrupted: _ = try await journal.finish(job: id, worker: worker, outcome: .interrupted(reason: "deadline"))
            case .completed: _ = try await journal.finish(job: id, worker: worker, outcome: .completed)
            case .dead: _ = try await journal.finish(job: id, worker: worker, outcome: .failed(error: "fatal", retryable: false))
            default: break
            }
            return id
        }
    }

    func remove() { directory.remove() }
}
