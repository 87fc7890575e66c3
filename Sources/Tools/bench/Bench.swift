import ArgumentParser
import Foundation
import Journal
import WorkerStore
import WorkerTestKit

/// Reproducible measurements of the journal; results and how to run them are in docs/benchmarks.md.
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the journal. Build with -c release; each scenario uses a fresh database in a temp directory.",
        subcommands: [
            EnqueueBulk.self, EnqueueSingle.self, EnqueueCLI.self, ClaimComplete.self, Stats.self, PluginLoad.self,
            PluginDispatch.self, RunNoop.self, TermExit.self, BootRecovery.self, StartLatency.self, IdleCPU.self, DrainUnderFlood.self, DashboardLoad.self,
            DashboardBenchmark.self,
        ])
}

struct CommonBenchOptions: ParsableArguments {
    @Option(help: "Journal durability: full or normal.")
    var synchronous: String = "full"

    @Option(help: "How many times to repeat the measurement; each run reports, then the median.")
    var runs: Int = 3

    @Option(help: "Directory for the temporary databases (default: $TMPDIR or /tmp).")
    var dir: String?

    @Option(help: ArgumentHelp(
        "Another build's products (its worker and libExamplePlugins.so, e.g. an older release build): each run then measures it beside this build, alternating, and both are reported.",
        valueName: "DIR"))
    var baseline: String?

    /// The builds to measure, this one first: (label, products directory).
    var builds: [(label: String, directory: String)] {
        [("this build", ProductBinary.directory)] + (baseline.map { [("baseline \($0)", $0)] } ?? [])
    }

    func journalOptions() throws -> JournalOptions {
        var options = JournalOptions()
        guard let sync = JournalOptions.Synchronous(rawValue: synchronous) else {
            throw ValidationError("--synchronous must be full or normal")
        }
        options.synchronous = sync
        return options
    }

    /// A fresh, empty directory for one run.
    func freshDirectory() throws -> String {
        let base = dir ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        let path = "\(base)/worker-bench-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// Enqueues `jobs` noop jobs in batches of 10,000.
func fill(_ journal: Journal, jobs: Int) async throws {
    for start in stride(from: 0, to: jobs, by: 10_000) {
        _ = try await journal.enqueue(batch: Array(repeating: NewJob(handler: "noop"), count: min(10_000, jobs - start)))
    }
}

/// Claims and completes every claimable job as `worker` (registered), `batch` at a time; returns how many.
@discardableResult
func completeAll(_ journal: Journal, worker: String, batch: Int) async throws -> Int {
    var done = 0
    while true {
        let claimed = try await journal.claim(ClaimRequest(worker: worker, limit: batch))
        if claimed.isEmpty { return done }
        _ = try await journal.finish(batch: claimed.map { ($0.id, JobOutcome.completed) }, worker: worker)
        done += claimed.count
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
}

struct EnqueueBulk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue-bulk", abstract: "Jobs per second through Journal.enqueue(batch:).")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Jobs per run.") var jobs: Int = 200_000
    @Option(help: "Jobs per transaction.") var batch: Int = 10_000

    func run() async throws {
        var rates: [Double] = []
        for run in 1...common.runs {
            let dir = try common.freshDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let journal = try Journal(path: "\(dir)/bench.sqlite3", options: common.journalOptions())
            let template = NewJob(handler: "noop", payload: #"{"n":1}"#)
            let chunk = Array(repeating: template, count: batch)
            let start = ContinuousClock.now
            var done = 0
            while done < jobs {
                let n = min(batch, jobs - done)
                _ = try await journal.enqueue(batch: n == batch ? chunk : Array(chunk.prefix(n)))
                done += n
            }
            let rate = Double(jobs) / seconds(since: start)
            rates.append(rate)
            print("run \(run): \(jobs) jobs in batches of \(batch), synchronous=\(common.synchronous): \(Int(rate)) jobs/s")
        }
        print("enqueue-bulk median: \(Int(median(rates))) jobs/s")
    }
}

struct EnqueueSingle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue-single", abstract: "Latency of one Journal.enqueue (one committed transaction each).")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Enqueues per run.") var count: Int = 2_000

    func run() async throws {
        var medians: [Double] = []
        for run in 1...common.runs {
            let dir = try common.freshDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let journal = try Journal(path: "\(dir)/bench.sqlite3", options: common.journalOptions())
            var latencies: [Double] = []
            latencies.reserveCapacity(count)
            for _ in 0..<count {
                let start = ContinuousClock.now
                _ = try await journal.enqueue(NewJob(handler: "noop", payload: #"{"n":1}"#))
                latencies.append(seconds(since: start) * 1e6)
            }
            latencies.sort()
            medians.append(percentile(latencies, 0.5))
            print(String(
                format: "run %d: %d enqueues, synchronous=%@: median %.0f µs, p99 %.0f µs, max %.0f µs",
                run, count, common.synchronous, percentile(latencies, 0.5), percentile(latencies, 0.99), latencies.last ?? 0))
        }
        print(String(format: "enqueue-single median of medians: %.0f µs", median(medians)))
        // For scale: the same number of one-row reads, each one async hop to the journal's queue and back.
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let journal = try Journal(path: "\(dir)/bench.sqlite3", options: common.journalOptions())
        let id = try await journal.enqueue(NewJob(handler: "noop")).job.id
        var reads: [Double] = []
        for _ in 0..<count {
            let start = ContinuousClock.now
            _ = try await journal.job(id)
            reads.append(seconds(since: start) * 1e6)
        }
        reads.sort()
        print(String(format: "for scale, one read of one job (an async round trip, no write): median %.0f µs", percentile(reads, 0.5)))
    }
}

struct EnqueueCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue-cli", abstract: "Jobs per second through `worker enqueue --payloads-from FILE`, end to end.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Jobs per run.") var jobs: Int = 200_000
    @Option(help: "The worker binary (default: next to this one).") var worker: String?

    func run() async throws {
        let binary = worker ?? ProductBinary.path("worker")
        var rates: [Double] = []
        for run in 1...common.runs {
            let dir = try common.freshDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let file = "\(dir)/payloads.jsonl"
            let line = #"{"n":1}"# + "\n"
            try String(repeating: line, count: jobs).write(toFile: file, atomically: false, encoding: .utf8)
            let start = ContinuousClock.now
            let process = try await ChildProcess.start(
                binary, ["enqueue", "noop", "--payloads-from", file, "--db", "\(dir)/bench.sqlite3", "--synchronous", common.synchronous],
                stdout: "/dev/null", stderr: "\(dir)/enqueue.err")
            let ending = await process.waitUntilExit()
            let elapsed = seconds(since: start)
            guard ending == .exited(0) else { throw ValidationError("worker enqueue ended \(ending)") }
            rates.append(Double(jobs) / elapsed)
            print("run \(run): \(jobs) jobs via the CLI (process start included): \(Int(Double(jobs) / elapsed)) jobs/s")
        }
        print("enqueue-cli median: \(Int(median(rates))) jobs/s")
    }
}

struct ClaimComplete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claim-complete",
        abstract: "Jobs per second through claim(batch) + finish(batch) (group commit), one worker, no handler.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Jobs per run.") var jobs: Int = 100_000
    @Option(help: "Jobs per claim and per group commit.") var batch: Int = 10

    func run() async throws {
        var rates: [Double] = []
        for run in 1...common.runs {
            let dir = try common.freshDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let journal = try Journal(path: "\(dir)/bench.sqlite3", options: common.journalOptions())
            try await fill(journal, jobs: jobs)
            try await journal.register(WorkerRegistration(id: "bench", pid: getpid(), host: "bench", processStartedAt: nil, version: "bench"))
            let start = ContinuousClock.now
            let done = try await completeAll(journal, worker: "bench", batch: batch)
            let rate = Double(done) / seconds(since: start)
            rates.append(rate)
            print("run \(run): \(done) jobs claimed and completed in batches of \(batch), synchronous=\(common.synchronous): \(Int(rate)) jobs/s")
        }
        print("claim-complete median: \(Int(median(rates))) jobs/s")
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Time of stats() and verify() over a journal of N finished jobs.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Jobs in the journal.") var jobs: Int = 1_000_000

    func run() async throws {
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let journal = try Journal(path: "\(dir)/bench.sqlite3", options: common.journalOptions())
        try await fill(journal, jobs: jobs)
        for _ in 1...common.runs {
            var start = ContinuousClock.now
            _ = try await journal.stats()
            let statsTime = seconds(since: start)
            start = ContinuousClock.now
            _ = try await journal.jobs(JobFilter(state: .queued, limit: 100))
            let listTime = seconds(since: start)
            print(String(format: "%d jobs: stats %.1f ms, jobs --state queued --limit 100 %.1f ms", jobs, statsTime * 1000, listTime * 1000))
        }
        let start = ContinuousClock.now
        let report = try await journal.verify()
        print(String(format: "verify: %.0f ms (%d jobs, %d events, sound: %@)", seconds(since: start) * 1000,
                     report.jobsChecked, report.eventsChecked, report.isSound ? "yes" : "no"))
    }
}
