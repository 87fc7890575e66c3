import Foundation
import Journal
import PostgresJournal
import Synchronization
import WorkerStore

/// A journal as a month of a busy fleet leaves it, for the dashboard's benchmark: `jobs` jobs over 5 queues and 10
/// handlers, mostly completed, with thousands dead, retrying, queued (some in a paused queue), scheduled, cancelled
/// and interrupted, jobs fired by schedules, and three workers. Everything goes through the store's own API
/// (enqueue, claim, finish, cancel, schedules): the events, rollups and counters are the ones real runs write, so
/// `worker journal verify` finds it sound. On SQLite the journal's clock is the seeder's, moved through a month
/// (the last hour one step a minute); PostgreSQL's times are the server's, so there the whole history is recent.
struct DashboardSeed {
    static let queues = ["default", "mail", "reports", "billing", "webhooks"]
    static let handlers = [
        "send-email", "render-report", "charge-card", "deliver-webhook", "resize-image",
        "sync-crm", "export-csv", "index-document", "send-sms", "cleanup",
    ]
    static let workers = ["web-1", "web-2", "batch-1"]
    static let schedules = [
        ScheduleDefinition(name: "nightly-report", handler: "render-report", cron: "0 3 * * *", timeZone: "Europe/Berlin", queue: "reports"),
        ScheduleDefinition(name: "hourly-sync", handler: "sync-crm", cron: "0 * * * *", queue: "default"),
        ScheduleDefinition(name: "heartbeat", handler: "cleanup", cron: "* * * * *", queue: "default", noOverlap: true),
    ]
    /// What the tail of the history holds besides the finished jobs: an outage of a webhook endpoint in the last
    /// minutes (retrying), a drain that interrupted jobs, a backlog (some of it in the paused queue), jobs for later.
    static let retrying = 3_000, interrupted = 200, queued = 1_000, paused = 2_000, later = 2_000
    static var tail: Int { retrying + interrupted + queued + paused + later }

    let jobs: Int
    /// Jobs per enqueue batch (and per step of the clock).
    var batch = 10_000

    /// The seeder's clock: journal time, moved by the seeder only.
    final class Clock: Sendable {
        let micros: Atomic<Int64>
        init(_ start: Micros) { micros = Atomic(start) }
        func set(_ value: Micros) { micros.store(value, ordering: .relaxed) }
        var wall: WallClock { WallClock { [self] in micros.load(ordering: .relaxed) } }
    }

    /// Fills a new SQLite journal at `path`; prints progress.
    func seed(path: String, synchronous: JournalOptions.Synchronous) async throws {
        let timeline = Timeline(steps: steps, end: WallClock.system.now() - 120_000_000)  // the history ends just before now
        let clock = Clock(timeline.time(ofStep: 0) - 60_000_000)
        var options = JournalOptions()
        options.synchronous = synchronous
        options.clock = clock.wall
        options.pid = 4242
        try await seed(into: Journal(path: path, options: options), clock: clock, timeline: timeline)
    }

    /// Fills the empty PostgreSQL database at `url` (its times are the server's: the whole history is recent).
    func seed(postgres url: String) async throws {
        var options = PostgresJournalOptions()
        options.statementTimeout = .seconds(600)
        options.pid = 4242
        let store = try await PostgresJournal.open(try PostgresLocation(url: url), options: options)
        let now = WallClock.system.now()
        try await seed(into: store, clock: Clock(now), timeline: Timeline(steps: steps, end: now))
    }

    /// Main-history jobs (all but the tail) and the clock's steps they are enqueued in.
    var main: Int { max(0, jobs - Self.tail) }
    var steps: Int { max(1, (main + batch - 1) / batch) }

    /// When each step happens: the last 60 one minute apart in the last hour, the others spread over the 30 days
    /// before it.
    struct Timeline {
        let steps: Int
        let end: Micros

        func time(ofStep step: Int) -> Micros {
            let hourSteps = min(steps, 60)
            let month: Micros = 30 * 86_400 * 1_000_000
            let fromEnd = steps - step
            if fromEnd <= hourSteps { return end - Micros(fromEnd) * 60_000_000 }
            let older = steps - hourSteps
            return end - Micros(hourSteps) * 60_000_000 - month * Micros(older - step) / Micros(older)
        }
    }

    /// Fills `journal`, setting `clock` (when the store reads it) to each step's time.
    func seed(into journal: any JobStore, clock: Clock, timeline: Timeline) async throws {
        for (index, worker) in Self.workers.enumerated() {
            try await journal.register(WorkerRegistration(
                id: worker, pid: Int32(1000 + index), host: "app-\(index + 1).example.internal", processStartedAt: nil,
                version: "worker 1.4.0", handlers: Self.handlers))
        }
        for schedule in Self.schedules { _ = try await journal.addSchedule(schedule, replace: false) }
        let main = self.main, steps = self.steps, end = timeline.end
        func time(ofStep step: Int) -> Micros { timeline.time(ofStep: step) }

        let started = ContinuousClock.now
        var made = 0
        for step in 0..<steps {
            let at = time(ofStep: step)
            let count = min(batch, main - made)
            clock.set(at)
            let ids = try await journal.enqueue(batch: (0..<count).map { Self.job(number: made + $0) }).map(\.id)
            made += count
            for id in ids where Self.fate(of: id) == .cancelled { _ = try await journal.cancel(job: id) }
            clock.set(at + 1_000_000)
            _ = try await journal.fireDueSchedules(worker: Self.workers[step % Self.workers.count], onTimeWithin: .seconds(60))
            try await work(journal, clock: clock, at: at + 2_000_000, worker: Self.workers[step % Self.workers.count])
            if step % 10 == 9 || step == steps - 1 {
                print(String(format: "seeded %d of %d jobs (%.0f s)", made, jobs, seconds(since: started)))
            }
        }
        try await seedTail(journal, clock: clock, end: end)
        _ = try await journal.edit(queue: "billing", .pause)
        for (index, worker) in Self.workers.enumerated() {
            try await journal.deregister(worker: worker, reason: index == 0 ? "drained (SIGTERM)" : "stopped by supervisor")
        }
    }

    /// Claims everything claimable as `worker` at `at` and finishes it as each job's fate says, a moment later.
    private func work(_ journal: any JobStore, clock: Clock, at: Micros, worker: String, queues: [String] = []) async throws {
        while true {
            clock.set(at)
            let claimed = try await Self.claim(journal, ClaimRequest(worker: worker, limit: batch, queues: queues, plugins: Self.plugins))
            if claimed.isEmpty { return }
            clock.set(at + 1_500_000)
            _ = try await journal.finish(batch: claimed.map { ($0.id, Self.outcome(of: $0)) }, worker: worker)
        }
    }

    /// The end of the history: a webhook outage, a drain, a backlog, jobs for later.
    private func seedTail(_ journal: any JobStore, clock: Clock, end: Micros) async throws {
        clock.set(end - 300_000_000)
        _ = try await journal.enqueue(batch: (0..<Self.retrying).map {
            NewJob(handler: "deliver-webhook", payload: Self.payload(number: $0, handler: "deliver-webhook"), queue: "webhooks", maxAttempts: 25)
        })
        clock.set(end - 290_000_000)
        let failing = try await Self.claim(journal, ClaimRequest(worker: Self.workers[0], limit: Self.retrying, queues: ["webhooks"], handlers: ["deliver-webhook"], plugins: Self.plugins))
        _ = try await journal.finish(batch: failing.map { ($0.id, .failed(error: "HTTP 503 from https://hooks.example.com/ingest: upstream unavailable")) }, worker: Self.workers[0])

        clock.set(end - 200_000_000)
        _ = try await journal.enqueue(batch: (0..<Self.interrupted).map {
            NewJob(handler: "export-csv", payload: Self.payload(number: $0, handler: "export-csv"), queue: "reports")
        })
        let held = try await Self.claim(journal, ClaimRequest(worker: Self.workers[0], limit: Self.interrupted, queues: ["reports"], handlers: ["export-csv"], plugins: Self.plugins))
        clock.set(end - 100_000_000)
        _ = try await journal.finish(batch: held.map { ($0.id, .interrupted(reason: "drain deadline passed")) }, worker: Self.workers[0])

        clock.set(end - 60_000_000)
        _ = try await journal.enqueue(batch: (0..<Self.queued).map { Self.job(number: $0, queue: Self.queues[$0 % 3]) }
            + (0..<Self.paused).map { Self.job(number: $0, queue: "billing") }
            + (0..<Self.later).map {
                var job = Self.job(number: $0, queue: Self.queues[$0 % Self.queues.count])
                job.runAt = end + Micros(1 + $0 % 24) * 3_600_000_000
                return job
            })
    }

    /// Claims as a worker's round does (nothing finished with it).
    static func claim(_ store: any JobStore, _ request: ClaimRequest) async throws -> [Job] {
        try await store.finishAndClaim(finished: [], claim: request).claimed
    }

    /// What happens to a job of the main history, by its id: mostly completed; 0.5% die, 0.3% fail once and
    /// complete on their retry, 0.2% are cancelled before they run.
    enum Fate { case completes, dies, failsOnce, cancelled }

    static func fate(of id: Int64) -> Fate {
        switch id % 1000 {
        case 0..<5: .dies
        case 5..<8: .failsOnce
        case 8..<10: .cancelled
        default: .completes
        }
    }

    static func outcome(of job: Job) -> JobOutcome {
        switch fate(of: job.id) {
        case .dies: .failed(error: error(for: job.handler, id: job.id), retryable: false)
        case .failsOnce where job.attempts <= 1: .failed(error: error(for: job.handler, id: job.id))
        default: .completed
        }
    }

    static func error(for handler: String, id: Int64) -> String {
        switch handler {
        case "charge-card": "card declined: insufficient funds (order \(id))"
        case "deliver-webhook": "HTTP 502 from https://hooks.example.com/ingest after 30 s"
        case "send-email": "SMTP 550 5.1.1 mailbox unavailable: user-\(id % 9973)@example.com"
        default: "\(handler) failed: connection reset by peer (job \(id))"
        }
    }

    /// The `number`th job of the history: its handler, queue (one of the first four: the fifth, webhooks, has the
    /// outage) and payload; every 40th was fired by a schedule.
    static func job(number: Int, queue: String? = nil) -> NewJob {
        let handler = handlers[number % handlers.count]
        let schedule = number % 40 == 0 ? schedules[(number / 40) % schedules.count] : nil
        return NewJob(
            handler: schedule?.handler ?? handler, payload: payload(number: number, handler: handler),
            queue: queue ?? schedule?.queue ?? queues[(number / 7) % 4], priority: number % 50 == 0 ? 10 : 0,
            schedule: schedule?.name)
    }

    static func payload(number: Int, handler: String) -> String {
        #"{"account":"acct-\#(number % 50_000)","user":"user-\#(number % 9973)@example.com","request":"\#(handler)-\#(number)","attempt_budget":3}"#
    }

    /// The plugin each handler came from, as a worker stamps its claims.
    static let plugins: [String: PluginStamp] = Dictionary(uniqueKeysWithValues: handlers.map {
        ($0, PluginStamp(name: "acme-jobs", version: "2.4.1", sha256: String(repeating: "3f9a", count: 16)))
    })
}
