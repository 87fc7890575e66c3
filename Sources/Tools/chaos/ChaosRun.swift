import Foundation
import Journal
import PostgresJournal
import WorkerStore
import WorkerTestKit

/// One chaos run: the journal, the workers in their slots, what was enqueued and what was done to them.
struct ChaosRun {
    let base: String
    let workers: Int
    let verbose: Bool
    let journal: any JobStore
    /// The journal's `--db` value: a SQLite file in `base`, or a PostgreSQL URL.
    let db: String
    private var slots: [RunningWorker?]
    private var started = 0
    /// Appends: job id -> (effect file, tag, steps).
    private(set) var appends: [Int64: (file: String, tag: String, steps: Int)] = [:]
    private(set) var enqueued: [Int64] = []
    private(set) var kills: [String: Int] = [:]
    /// Milliseconds from a worker's start to its `ready:` line (boot recovery done), for every restart.
    private(set) var recoveries: [Double] = []

    /// A run on the journal `db` names: nil for a new SQLite file in `base`, or a `postgres://` URL (an empty
    /// database: the checks count every job in it).
    init(base: String, workers: Int, verbose: Bool, db: String?) async throws {
        self.base = base
        self.workers = workers
        self.verbose = verbose
        if let db, PostgresLocation.isPostgresURL(db) {
            var options = PostgresJournalOptions()
            options.statementTimeout = .seconds(120)
            journal = try await PostgresJournal.open(try PostgresLocation(url: db), options: options)
            self.db = db
        } else {
            var options = JournalOptions()
            options.busyTimeoutSeconds = 60
            let path = db ?? "\(base)/chaos.sqlite3"
            journal = try Journal(path: path, options: options)
            self.db = path
        }
        slots = Array(repeating: nil, count: workers)
    }

    mutating func start() async throws {
        for slot in slots.indices { slots[slot] = try await spawn() }
    }

    private mutating func spawn() async throws -> RunningWorker {
        started += 1
        return try await RunningWorker(
            ["run", "--db", db, "--plugin", ChaosPaths.examples, "--drain-timeout", "1", "--concurrency", "6"],
            logPath: "\(base)/worker-\(started).log", environment: ["WORKER_LOG_LEVEL": "notice"], executable: ChaosPaths.worker)
    }

    /// Enqueues `count` jobs of the contract's handlers, mostly appends with several steps.
    mutating func enqueueMix(count: Int, cycle: Int, random: inout SplitMix) async throws {
        var jobs: [NewJob] = []
        var tags: [(file: String, tag: String, steps: Int)?] = []
        for index in 0..<count {
            let roll = Int.random(in: 0..<100, using: &random)
            switch roll {
            case 0..<45:
                let steps = Int.random(in: 2...5, using: &random)
                let tag = "c\(cycle)j\(index)"
                let file = "\(base)/effects/\(tag).txt"
                jobs.append(NewJob(handler: "append", payload: #"{"path": "\#(file)", "text": "\#(tag)", "steps": \#(steps), "ms": \#(Int.random(in: 0...40, using: &random))}"#))
                tags.append((file, tag, steps))
            case 45..<70:
                jobs.append(NewJob(handler: "sleep", payload: #"{"ms": \#(Int.random(in: 50...1500, using: &random))}"#))
                tags.append(nil)
            case 70..<80:
                jobs.append(NewJob(handler: "fail", payload: #"{"times": 1}"#, maxAttempts: 10))
                tags.append(nil)
            case 80..<82:
                jobs.append(NewJob(handler: "crash", payload: Bool.random(using: &random) ? #"{"how": "abort"}"# : #"{"how": "segv"}"#))
                tags.append(nil)
            default:
                jobs.append(NewJob(handler: "noop", payload: "{}"))
                tags.append(nil)
            }
        }
        let results = try await journal.enqueue(batch: jobs)
        for (result, tag) in zip(results, tags) {
            enqueued.append(result.id)
            if let tag { appends[result.id] = tag }
        }
    }

    /// Kills a random live worker with SIGKILL, SIGTERM or SIGTERM twice, and starts another in its place.
    mutating func killOne(random: inout SplitMix) async throws {
        let slot = Int.random(in: 0..<slots.count, using: &random)
        guard let worker = slots[slot] else { return }
        let how = ["KILL", "TERM", "TERM×2"][Int.random(in: 0..<3, using: &random)]
        switch how {
        case "KILL": worker.killGroup()  // as a supervisor does; also ends a swift-backtrace a crash left hanging
        case "TERM": worker.signal(SIGTERM)
        default:
            worker.signal(SIGTERM)
            try await Task.sleep(for: .milliseconds(Int.random(in: 1...300, using: &random)))
            worker.signal(SIGTERM)
        }
        let exit = await worker.waitForExit(timeout: .seconds(30))
        kills[how, default: 0] += 1
        if verbose { print("  \(how) worker \(worker.pid): \(exit.map(Self.describe) ?? "still running: killed after 30 s")") }
        try await replace(slot)
    }

    /// Starts workers in place of those that died by themselves (a `crash` job takes its worker down).
    mutating func restartTheDead() async throws {
        for slot in slots.indices where slots[slot]?.isAlive == false {
            kills["crash job", default: 0] += 1
            slots[slot] = try await spawn()
        }
    }

    private mutating func replace(_ slot: Int) async throws {
        let worker = try await spawn()
        slots[slot] = worker
        if await worker.waitForLog("ready:", timeout: .seconds(60), poll: .milliseconds(1)) {
            recoveries.append((ContinuousClock.now - worker.started) / .milliseconds(1))
        }
    }

    /// Stops every worker with TERM, works everything off with one last worker, and checks.
    mutating func finish() async throws -> ChaosReport {
        for worker in slots.compactMap({ $0 }) where worker.isAlive {
            worker.signal(SIGTERM)
            _ = await worker.waitForExit(timeout: .seconds(30))
        }
        slots = slots.map { _ in nil }
        // A crash job takes the final worker down too, up to three times each (then it is dead): start another
        // until one exits 0 (nothing left to do), allowing for every crash job still waiting.
        let crashJobs = try await journal.jobs(JobFilter(handler: "crash", limit: 1_000_000)).filter { $0.finishedAt == nil }.count
        for attempt in 1...(10 + 3 * crashJobs) {
            let last = try await RunningWorker(
                ["run", "--db", db, "--plugin", ChaosPaths.examples, "--exit-when-idle"],
                logPath: "\(base)/final-\(attempt).log", environment: ["WORKER_LOG_LEVEL": "notice"], executable: ChaosPaths.worker)
            if await last.waitForExit(timeout: .seconds(600))?.status == 0 { break }
            kills["crash job", default: 0] += 1
        }
        return try await ChaosReport.check(self)
    }

    private static func describe(_ exit: RunningWorker.Exit) -> String {
        if let signal = exit.signal { return "killed by signal \(signal)" }
        return "exit \(exit.status ?? -1)"
    }
}
