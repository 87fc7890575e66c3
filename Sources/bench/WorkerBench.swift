import ArgumentParser
import Foundation
import Journal

/// The release `worker` binary next to this one.
func workerBinary() -> String {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("worker").path
}

/// A `worker run` started by the bench, its log in a file.
final class BenchWorker {
    let process = Process()
    let log: String

    init(db: String, arguments: [String], log: String) throws {
        self.log = log
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: workerBinary())
        process.arguments = ["run", "--db", db, "--plugin", examplePluginsPath(nil)] + arguments
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    func waitForLog(_ text: String) async throws {
        while !((try? String(contentsOfFile: log, encoding: .utf8))?.contains(text) ?? false) {
            guard process.isRunning else { throw ValidationError("worker exited: \(String(describing: try? String(contentsOfFile: log, encoding: .utf8)))") }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    func waitForExit() async {
        while process.isRunning { try? await Task.sleep(for: .milliseconds(1)) }
    }

    /// Resident memory in KiB, from /proc.
    var rssKiB: Int { status("VmRSS:") }

    /// Threads of the process, from /proc.
    var threads: Int { status("Threads:") }

    private func status(_ field: String) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field) } ?? ""
        return Int(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0
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

    func run() async throws {
        var rates: [Double] = []
        for run in 1...common.runs {
            let dir = try common.freshDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let db = "\(dir)/bench.sqlite3"
            let journal = try Journal(path: db, options: common.journalOptions())
            try await fill(journal, jobs: jobs)
            let worker = try BenchWorker(
                db: db, arguments: ["--exit-when-idle", "--concurrency", "\(concurrency)", "--prefetch", "\(prefetch)",
                                    "--synchronous", common.synchronous],
                log: "\(dir)/worker.log")
            try await worker.waitForLog("ready:")
            let start = ContinuousClock.now
            let idleRSS = worker.rssKiB
            var peakRSS = idleRSS
            var peakThreads = worker.threads
            while worker.process.isRunning {
                peakRSS = max(peakRSS, worker.rssKiB)
                peakThreads = max(peakThreads, worker.threads)
                try await Task.sleep(for: .milliseconds(50))
            }
            let rate = Double(jobs) / seconds(since: start)
            rates.append(rate)
            let completed = try await journal.stats()[.completed] ?? 0
            print("run \(run): \(completed) of \(jobs) noop jobs, concurrency \(concurrency), prefetch \(prefetch), synchronous=\(common.synchronous): \(Int(rate)) jobs/s; RSS at ready \(idleRSS / 1024) MiB, peak \(peakRSS / 1024) MiB; peak threads \(peakThreads)")
        }
        print("run-noop median: \(Int(median(rates))) jobs/s")
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
        for run in 1...common.runs {
            let dir = try common.freshDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let db = "\(dir)/bench.sqlite3"
            let journal = try Journal(path: db, options: common.journalOptions())
            let idle = try BenchWorker(db: db, arguments: [], log: "\(dir)/idle.log")
            try await idle.waitForLog("ready:")
            try await Task.sleep(for: .milliseconds(200))
            var start = ContinuousClock.now
            kill(idle.process.processIdentifier, SIGTERM)
            await idle.waitForExit()
            let idleExit = seconds(since: start) * 1000

            _ = try await journal.enqueue(batch: Array(repeating: NewJob(handler: "sleep", payload: #"{"ms": 60000}"#), count: inFlight))
            let busy = try BenchWorker(
                db: db, arguments: ["--concurrency", "\(inFlight)", "--drain-timeout", "\(deadline)"], log: "\(dir)/busy.log")
            while (try await journal.stats()[.running] ?? 0) < inFlight { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(300))
            start = ContinuousClock.now
            kill(busy.process.processIdentifier, SIGTERM)
            await busy.waitForExit()
            let busyExit = seconds(since: start) * 1000
            let stats = try await journal.stats()
            print(String(format: "run %d: idle worker TERM->exit %.0f ms; %d sleep jobs in flight, D = %.1f s: TERM->exit %.0f ms (D + %.0f ms), interrupted %d, running %d, exit status %d",
                         run, idleExit, inFlight, deadline, busyExit, busyExit - deadline * 1000, stats[.interrupted] ?? 0,
                         stats[.running] ?? 0, busy.process.terminationStatus))
        }
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
        while true {
            let claimed = try await journal.claim(ClaimRequest(worker: "finisher", limit: 10_000))
            if claimed.isEmpty { break }
            _ = try await journal.finish(batch: claimed.map { ($0.id, JobOutcome.completed) }, worker: "finisher")
        }
        for run in 1...common.runs {
            try await journal.register(WorkerRegistration(id: "dead-\(run)", pid: 2, host: "bench", processStartedAt: nil, version: "bench"))
            _ = try await journal.enqueue(batch: Array(repeating: NewJob(handler: "sleep", payload: #"{"ms": 60000}"#), count: orphans))
            _ = try await journal.claim(ClaimRequest(worker: "dead-\(run)", limit: orphans))  // no lock file: it is dead
            let start = ContinuousClock.now
            let worker = try BenchWorker(db: db, arguments: ["--concurrency", "1", "--queue", "none"], log: "\(dir)/boot\(run).log")
            try await worker.waitForLog("ready:")
            let ready = seconds(since: start) * 1000
            kill(worker.process.processIdentifier, SIGTERM)
            await worker.waitForExit()
            let stats = try await journal.stats()
            print(String(format: "run %d: %d finished jobs, %d orphans: process start to ready %.0f ms; interrupted now %d",
                         run, stats[.completed] ?? 0, orphans, ready, stats[.interrupted] ?? 0))
            _ = try await journal.jobs(JobFilter(state: .interrupted, limit: 1))
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
        let worker = try BenchWorker(db: db, arguments: [], log: "\(dir)/worker.log")
        try await worker.waitForLog("ready:")
        var ids: [Int64] = []
        for _ in 0..<jobs {
            ids.append(try await journal.enqueue(NewJob(handler: "noop")).job.id)
            try await Task.sleep(for: .milliseconds(spacing))
        }
        try await Task.sleep(for: .milliseconds(200))
        kill(worker.process.processIdentifier, SIGTERM)
        await worker.waitForExit()
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
