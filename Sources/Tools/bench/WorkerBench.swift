import ArgumentParser
import Foundation
import Journal
import WorkerStore
import WorkerTestKit

/// `worker run` started by the bench: a test kit `RunningWorker` looking every millisecond, so that a measured
/// wait overshoots by at most that.
extension RunningWorker {
    static let benchPoll = Duration.milliseconds(1)

    /// Starts `worker run` of the build in `products` (default: the release binary next to the bench) on `db`
    /// with that build's example plugins.
    static func bench(db: String, _ arguments: [String], log: String, products: String = ProductBinary.directory) async throws -> RunningWorker {
        try await RunningWorker(
            ["run", "--db", db, "--plugin", "\(products)/libExamplePlugins.so"] + arguments, logPath: log,
            executable: "\(products)/worker")
    }

    /// Waits for the worker to be ready (recovery done, intake open).
    func ready() async throws {
        guard await waitForLog("ready:", timeout: .seconds(3600), poll: Self.benchPoll) else {
            throw ValidationError("worker exited before it was ready: \(log)")
        }
    }

    /// Waits for the worker to exit.
    func exited() async {
        _ = await waitForExit(timeout: .seconds(3600), poll: Self.benchPoll)
    }

    /// Resident memory in KiB, from /proc.
    var rssKiB: Int { status("VmRSS:") }

    /// Threads of the process, from /proc.
    var threads: Int { status("Threads:") }

    /// User and system CPU time so far, in clock ticks (`/proc/PID/stat` fields 14 and 15).
    var cpuTicks: Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: end)...].split(separator: " ")  // from field 3 (state) on
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else { return 0 }
        return user + system
    }

    private func status(_ field: String) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field) } ?? ""
        return Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0
    }
}

/// A build's own command line, for what a bench does to a journal while that build's worker uses it: a baseline
/// build must find the journal at its own schema (this build's library would migrate it ahead).
struct BuildCLI {
    let products: String
    let db: String
    let synchronous: String

    /// Enqueues `count` jobs of `handler` with `payload`, in batches, through `worker enqueue --payloads-from`.
    func enqueue(_ handler: String, payload: String = "{}", count: Int, in dir: String) async throws {
        let file = "\(dir)/payloads.jsonl"
        try String(repeating: payload + "\n", count: count).write(toFile: file, atomically: true, encoding: .utf8)
        let result = try await runProcess(
            "\(products)/worker", ["enqueue", handler, "--payloads-from", file, "--db", db, "--synchronous", synchronous])
        guard result.status == 0 else { throw ValidationError("enqueue failed: \(result.stderr)") }
    }

    /// Runs `worker ARGUMENTS --db DB` of this build; throws with its error unless it exits 0.
    func run(_ arguments: [String]) async throws {
        let result = try await runProcess("\(products)/worker", arguments + ["--db", db])
        guard result.status == 0 else { throw ValidationError("worker \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
    }

    /// Jobs per state (`worker stats --json`).
    func stats() async throws -> [String: Int] {
        let result = try await runProcess("\(products)/worker", ["stats", "--json", "--db", db])
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Int] else {
            throw ValidationError("stats failed: \(result.stderr)")
        }
        return object
    }
}

struct RunNoop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-noop",
        abstract: "No-op jobs per second through `worker run --exit-when-idle` (the full durable path), and its memory.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Jobs per run.") var jobs: Int = 50_000
    @Option(help: "Worker concurrency.") var concurrency: Int = 10
    @Option(help: "Worker prefetch (jobs claimed ahead): auto or a number.") var prefetch = "auto"
    @Flag(help: "Alternate runs without and with --admin (metrics counted per job), to compare them in one session.")
    var compareAdmin = false
    @Flag(help: "Run each measurement three ways, side by side: plain; with limits on the jobs' queue set high enough never to bind (concurrency, rate, per-key); with a schedule firing every second.")
    var compareControls = false

    /// What a run sets up besides its jobs (`--compare-controls`).
    enum Controls: String, CaseIterable {
        case none, limits, schedule

        var label: String {
            switch self {
            case .none: ""
            case .limits: " with limits that never bind"
            case .schedule: " with a schedule every second"
            }
        }

        func apply(_ cli: BuildCLI) async throws {
            switch self {
            case .none:
                break
            case .limits:
                try await cli.run(["queue", "set", "default", "--concurrency", "1000", "--rate", "1000000/1", "--per-key-concurrency", "1000"])
            case .schedule:
                try await cli.run(["schedule", "add", "tick", "noop", "--cron", "* * * * * *", "--queue", "ticks"])
            }
        }
    }

    func run() async throws {
        var rates: [String: [Double]] = [:]
        for run in 1...common.runs {
            for build in common.builds {
                for controls in compareControls ? Controls.allCases : [.none] {
                    let admin = compareAdmin && run % 2 == 0
                    let rate = try await measure(run: run, admin: admin, controls: controls, products: build.directory, label: build.label)
                    rates[build.label + (admin ? " with --admin" : "") + controls.label, default: []].append(rate)
                }
            }
        }
        for (label, values) in rates.sorted(by: { $0.key < $1.key }) {
            print("run-noop median, \(label): \(Int(median(values))) jobs/s")
        }
    }

    private func measure(run: Int, admin: Bool, controls: Controls, products: String, label: String) async throws -> Double {
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = "\(dir)/bench.sqlite3"
        let cli = BuildCLI(products: products, db: db, synchronous: common.synchronous)
        try await cli.enqueue("noop", count: jobs, in: dir)
        try await controls.apply(cli)
        let worker = try await RunningWorker.bench(
            db: db, ["--exit-when-idle", "--concurrency", "\(concurrency)", "--prefetch", "\(prefetch)", "--synchronous", common.synchronous]
                + (admin ? ["--admin", "127.0.0.1:0"] : []),
            log: "\(dir)/worker.log", products: products)
        try await worker.ready()
        let start = ContinuousClock.now
        let idleRSS = worker.rssKiB
        var peakRSS = idleRSS
        var peakThreads = worker.threads
        while worker.isAlive {
            peakRSS = max(peakRSS, worker.rssKiB)
            peakThreads = max(peakThreads, worker.threads)
            try await Task.sleep(for: .milliseconds(50))
        }
        let rate = Double(jobs) / seconds(since: start)
        let completed = try await cli.stats()["completed"] ?? 0
        print("run \(run), \(label)\(admin ? " (--admin)" : "")\(controls.label): \(completed) of \(jobs) noop jobs, concurrency \(concurrency), prefetch \(prefetch), synchronous=\(common.synchronous): \(Int(rate)) jobs/s; RSS at ready \(idleRSS / 1024) MiB, peak \(peakRSS / 1024) MiB; peak threads \(peakThreads)")
        return rate
    }
}

struct TermExit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "term-exit",
        abstract: "Time from TERM to exit: an idle worker, and one with N sleep jobs in flight and drain deadline D.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Sleep jobs in flight.") var inFlight: Int = 100
    @Option(help: "Drain deadline D in seconds.") var deadline: Double = 1

    func run() async throws {
        var idle: [String: [Double]] = [:]
        var busy: [String: [Double]] = [:]
        for run in 1...common.runs {
            for build in common.builds {
                let (idleExit, busyExit) = try await measure(run: run, products: build.directory, label: build.label)
                idle[build.label, default: []].append(idleExit)
                busy[build.label, default: []].append(busyExit)
            }
        }
        for build in common.builds {
            print(String(format: "term-exit median, %@: idle %.0f ms; %d in flight, D = %.1f s: %.0f ms",
                         build.label, median(idle[build.label] ?? []), inFlight, deadline, median(busy[build.label] ?? [])))
        }
    }

    /// TERM to exit of an idle worker, then of one with `inFlight` sleep jobs, in milliseconds.
    private func measure(run: Int, products: String, label: String) async throws -> (Double, Double) {
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = "\(dir)/bench.sqlite3"
        let cli = BuildCLI(products: products, db: db, synchronous: common.synchronous)
        let idle = try await RunningWorker.bench(db: db, [], log: "\(dir)/idle.log", products: products)
        try await idle.ready()
        try await Task.sleep(for: .milliseconds(200))
        var start = ContinuousClock.now
        idle.signal(SIGTERM)
        await idle.exited()
        let idleExit = seconds(since: start) * 1000

        try await cli.enqueue("sleep", payload: #"{"ms": 60000}"#, count: inFlight, in: dir)
        let busy = try await RunningWorker.bench(
            db: db, ["--concurrency", "\(inFlight)", "--drain-timeout", "\(deadline)"], log: "\(dir)/busy.log", products: products)
        while (try await cli.stats()["running"] ?? 0) < inFlight { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(300))
        start = ContinuousClock.now
        busy.signal(SIGTERM)
        await busy.exited()
        let busyExit = seconds(since: start) * 1000
        let stats = try await cli.stats()
        print(String(format: "run %d, %@: idle worker TERM->exit %.0f ms; %d sleep jobs in flight, D = %.1f s: TERM->exit %.0f ms (D + %.0f ms), interrupted %d, running %d, exit status %d",
                     run, label, idleExit, inFlight, deadline, busyExit, busyExit - deadline * 1000, stats["interrupted"] ?? 0,
                     stats["running"] ?? 0, busy.process.status ?? -1))
        return (idleExit, busyExit)
    }
}

struct BootRecovery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "boot-recovery",
        abstract: "Start to ready with a big history of finished jobs and orphans of a dead worker.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Finished jobs in the history.") var history: Int = 1_000_000
    @Option(help: "Jobs a dead worker held running.") var orphans: Int = 1_000

    func run() async throws {
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = "\(dir)/bench.sqlite3"
        let journal = try Journal(path: db, options: common.journalOptions())
        try await fill(journal, jobs: history)
        try await journal.register(WorkerRegistration(id: "finisher", pid: 1, host: "bench", processStartedAt: nil, version: "bench"))
        try await completeAll(journal, worker: "finisher", batch: 10_000)
        for run in 1...common.runs {
            try await journal.register(WorkerRegistration(id: "dead-\(run)", pid: 2, host: "bench", processStartedAt: nil, version: "bench"))
            _ = try await journal.enqueue(batch: Array(repeating: NewJob(handler: "sleep", payload: #"{"ms": 60000}"#), count: orphans))
            _ = try await journal.claim(ClaimRequest(worker: "dead-\(run)", limit: orphans))  // no lock file: it is dead
            let start = ContinuousClock.now
            let worker = try await RunningWorker.bench(db: db, ["--concurrency", "1", "--queue", "none"], log: "\(dir)/boot\(run).log")
            try await worker.ready()
            let ready = seconds(since: start) * 1000
            worker.signal(SIGTERM)
            await worker.exited()
            let stats = try await journal.stats()
            print(String(format: "run %d: %d finished jobs, %d orphans: process start to ready %.0f ms; interrupted now %d",
                         run, stats[.completed] ?? 0, orphans, ready, stats[.interrupted] ?? 0))
            for job in try await journal.jobs(JobFilter(state: .interrupted, limit: orphans)) { _ = try await journal.cancel(job: job.id) }
        }
    }
}

struct StartLatency: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start-latency",
        abstract: "Enqueue-to-start latency for jobs enqueued by another process while the worker is idle.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Jobs, enqueued one at a time.") var jobs: Int = 200
    @Option(help: "Milliseconds between enqueues.") var spacing: Int = 20

    func run() async throws {
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = "\(dir)/bench.sqlite3"
        let journal = try Journal(path: db, options: common.journalOptions())
        let worker = try await RunningWorker.bench(db: db, [], log: "\(dir)/worker.log")
        try await worker.ready()
        var ids: [Int64] = []
        for _ in 0..<jobs {
            ids.append(try await journal.enqueue(NewJob(handler: "noop")).job.id)
            try await Task.sleep(for: .milliseconds(spacing))
        }
        try await Task.sleep(for: .milliseconds(200))
        worker.signal(SIGTERM)
        await worker.exited()
        var latencies: [Double] = []
        for id in ids {
            let events = try await journal.events(job: id)
            guard let created = events.first?.at, let started = events.first(where: { $0.to == .running })?.at else { continue }
            latencies.append(Double(started - created) / 1000)
        }
        latencies.sort()
        print(String(format: "start-latency: %d jobs from another process, idle worker: median %.2f ms, p99 %.2f ms, max %.2f ms",
                     latencies.count, percentile(latencies, 0.5), percentile(latencies, 0.99), latencies.last ?? 0))
    }
}

struct IdleCPU: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle-cpu",
        abstract: "CPU time an idle worker uses (nothing queued; it waits for other processes' enqueues).")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Seconds to watch the idle worker.") var seconds: Int = 10

    func run() async throws {
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = "\(dir)/bench.sqlite3"
        let worker = try await RunningWorker.bench(db: db, [], log: "\(dir)/worker.log")
        try await worker.ready()
        try await Task.sleep(for: .seconds(1))  // past start-up
        let before = worker.cpuTicks
        try await Task.sleep(for: .seconds(seconds))
        let used = Double(worker.cpuTicks - before) / Double(sysconf(Int32(_SC_CLK_TCK)))
        worker.signal(SIGTERM)
        await worker.exited()
        print(String(format: "idle-cpu: %.2f CPU-seconds in %d s: %.1f%% of a core", used, seconds, used / Double(seconds) * 100))
    }
}
