import ArgumentParser
import Foundation
import Journal
import PostgresJournal
import WorkerStore
import WorkerTestKit

struct DashboardBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "The admin endpoint's dashboard on a journal of many jobs: each page and API call (median, p99); with --compare-refresh, no-op throughput with and without a client loading the overview every second.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Jobs in the seeded journal.") var jobs: Int = 1_000_000
    @Option(help: "Measured requests per page or call (after one not measured).") var requests: Int = 50
    @Option(help: ArgumentHelp("A seeded journal to keep: seeded when missing, reused when present (each measurement works on a copy).", valueName: "PATH"))
    var journal: String?
    @Option(help: "What serves the pages: dashboard (`worker dashboard`) or run (`worker run --queue none`, running nothing).")
    var serve: String = "dashboard"
    @Flag(help: "Measure no-op throughput of `worker run --admin` on a copy of the journal, with and without a client loading the overview every second (--runs times each, alternating).")
    var compareRefresh = false
    @Flag(help: "With --compare-refresh: skip the per-page measurements.") var skipPages = false
    @Flag(help: "Seed and serve a database on a private PostgreSQL server (started and stopped by the bench) instead of SQLite; pages only.")
    var postgres = false
    @Option(help: "With --compare-refresh: noop jobs per run (enough for about ten seconds of work).") var noopJobs: Int = 300_000
    @Option(help: "With --compare-refresh: worker concurrency.") var concurrency: Int = 10
    @Option(help: "With --compare-refresh: the page the client loads every second.") var refreshPath: String = "/"

    func run() async throws {
        guard ["dashboard", "run"].contains(serve) else { throw ValidationError("--serve must be dashboard or run") }
        if postgres, compareRefresh || journal != nil { throw ValidationError("--postgres measures the pages only: drop --compare-refresh and --journal") }
        let scratch = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        if postgres {
            let url = try await PostgresTestServer.shared.database("dashboard")
            try await seed(label: "PostgreSQL") { try await DashboardSeed(jobs: jobs).seed(postgres: url) }
            try await verify(url)
            var options = PostgresJournalOptions()
            options.statementTimeout = .seconds(600)
            let store = try await PostgresJournal.open(try PostgresLocation(url: url), options: options)
            try await measurePages(db: url, store: store, dir: scratch)
            return
        }
        let base = try await seededJournal(scratch: scratch)
        if !skipPages {
            let dir = "\(scratch)/pages"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let db = try copy(base, to: dir)
            try await measurePages(db: db, store: try Journal(path: db), dir: dir)
        }
        if compareRefresh { try await measureRefresh(base: base, scratch: scratch) }
    }

    /// The seeded journal: `--journal` when it exists, else seeded (there, or in the scratch directory) and verified
    /// by the worker's own `journal verify`.
    private func seededJournal(scratch: String) async throws -> String {
        let path = journal ?? "\(scratch)/seeded.sqlite3"
        if FileManager.default.fileExists(atPath: path) {
            print("reusing the seeded journal \(path)")
            return path
        }
        try await seed(label: "SQLite") { try await DashboardSeed(jobs: jobs).seed(path: path, synchronous: .normal) }
        try await verify(path)
        return path
    }

    private func seed(label: String, _ body: () async throws -> Void) async throws {
        let start = ContinuousClock.now
        try await body()
        print(String(format: "seeded %d jobs (%@) in %.0f s", jobs, label, seconds(since: start)))
    }

    /// `worker journal verify` of the seeded journal: it must be sound.
    private func verify(_ db: String) async throws {
        let start = ContinuousClock.now
        let verify = try await runProcess(ProductBinary.path("worker"), ["journal", "verify", "--db", db])
        print(String(format: "worker journal verify: exit %d in %.0f s: %@", verify.status, seconds(since: start),
                     (verify.stdout + verify.stderr).split(separator: "\n").prefix(3).joined(separator: " | ")))
        guard verify.status == 0 else { throw ValidationError("the seeded journal does not verify") }
    }

    /// A copy of the seeded journal in a fresh directory (its WAL too, if one was left).
    private func copy(_ base: String, to dir: String) throws -> String {
        let target = "\(dir)/bench.sqlite3"
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: base + suffix) {
            try FileManager.default.copyItem(atPath: base + suffix, toPath: target + suffix)
        }
        return target
    }

    /// Starts what serves the pages on `db`, with a token file; returns it, its port and the token.
    private func startServer(db: String, dir: String, extra: [String] = []) async throws -> (RunningWorker, Int, String) {
        let token = (0..<4).map { _ in String(UInt64.random(in: 0...UInt64.max), radix: 16) }.joined()
        let tokenFile = "\(dir)/admin-token"
        guard FileManager.default.createFile(atPath: tokenFile, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ValidationError("cannot write \(tokenFile)")
        }
        let arguments = serve == "dashboard"
            ? ["dashboard", "--db", db]
            : ["run", "--db", db, "--plugin", ProductBinary.path("libExamplePlugins.so"), "--queue", "none"]
        let server = try await RunningWorker(
            arguments + ["--admin", "127.0.0.1:0", "--admin-token-file", tokenFile] + extra, logPath: "\(dir)/server.log")
        guard let port = await server.adminPort(timeout: .seconds(600)) else {
            throw ValidationError("the worker did not start its admin endpoint: \(server.log)")
        }
        return (server, port, token)
    }

    /// Each page and call, `requests` times, on `db` (whose jobs `store` reads to pick the ones named).
    private func measurePages(db: String, store: any JobStore, dir: String) async throws {
        let targets = try await DashboardTargets.pick(store, count: requests + 1)
        let (server, port, token) = try await startServer(db: db, dir: dir)
        defer { server.signal(SIGTERM) }
        print("\(serve == "dashboard" ? "worker dashboard" : "worker run --queue none") on \(jobs) jobs, \(requests) requests each, one at a time with a pause of four times the last one's time, a new connection each (ms):")
        print("| request | status | bytes | median | p99 | max |")
        print("|---|---|---|---|---|---|")
        var slow: [String] = [], refused: [String] = []
        for request in targets.requests {
            var latencies: [Double] = []
            var statuses: Set<Int> = []
            var bytes = 0
            for index in 0...requests {
                let path = request.path(index)
                let start = ContinuousClock.now
                let response = try await HTTPProbe.request(
                    request.method, path, port: port, headers: request.method == "POST" ? ["Authorization": "Bearer \(token)"] : [:],
                    timeout: .seconds(120))
                let elapsed = seconds(since: start) * 1000
                if index > 0 { latencies.append(elapsed) }  // the first warms the page cache and the statement cache
                // The dashboard's gate rests three times as long as a request took before it serves the next
                // (docs/dashboard.md): pausing longer keeps its queue out of the numbers, which are then each
                // request's own time, as a person clicking through the pages sees it.
                try await Task.sleep(for: .milliseconds(4 * elapsed + 5))
                statuses.insert(response.status)
                bytes = response.body.utf8.count
            }
            latencies.sort()
            let p99 = percentile(latencies, 0.99)
            if p99 > 100 { slow.append(request.label) }
            if statuses.contains(where: { !(200..<400).contains($0) }) { refused.append(request.label) }
            print(String(format: "| `%@ %@` | %@ | %d | %.1f | %.1f | %.1f |", request.method, request.label,
                         statuses.sorted().map(String.init).joined(separator: ","), bytes, percentile(latencies, 0.5), p99,
                         latencies.last ?? 0))
        }
        print(slow.isEmpty ? "every request's p99 is within 100 ms" : "p99 over 100 ms: \(slow.joined(separator: ", "))")
        if !refused.isEmpty { print("answered with an error status (not a measurement of the page): \(refused.joined(separator: ", "))") }
    }

    /// No-op throughput of `worker run --admin` on copies of the journal, with and without a client loading
    /// `refreshPath` every second, alternating which goes first.
    private func measureRefresh(base: String, scratch: String) async throws {
        var rates: [Bool: [Double]] = [:]
        var pageTimes: [Double] = []
        for run in 1...common.runs {
            for refresh in run % 2 == 1 ? [false, true] : [true, false] {
                let dir = "\(scratch)/refresh-\(run)-\(refresh)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(atPath: dir) }
                let db = try copy(base, to: dir)
                let cli = BuildCLI(products: ProductBinary.directory, db: db, synchronous: common.synchronous)
                let file = "\(dir)/payloads.jsonl"
                try String(repeating: "{}\n", count: noopJobs).write(toFile: file, atomically: true, encoding: .utf8)
                try await cli.run(["enqueue", "noop", "--payloads-from", file, "--queue", "bench", "--synchronous", common.synchronous])
                let worker = try await RunningWorker.bench(
                    db: db, ["--exit-when-idle", "--queue", "bench", "--concurrency", "\(concurrency)", "--synchronous", common.synchronous,
                             "--admin", "127.0.0.1:0"],
                    log: "\(dir)/worker.log")
                try await worker.ready()
                guard let port = await worker.adminPort() else { throw ValidationError("no admin port: \(worker.log)") }
                let start = ContinuousClock.now
                let client = refresh ? Task { await Self.refresh(refreshPath, port: port, until: worker) } : nil
                await worker.exited()
                let rate = Double(noopJobs) / seconds(since: start)
                let times = await client?.value ?? []
                pageTimes += times
                guard worker.process.status == 0 else { throw ValidationError("worker exited \(String(describing: worker.process.status)): \(worker.log.suffix(500))") }
                rates[refresh, default: []].append(rate)
                print(String(format: "run %d%@: %d noop jobs on a journal of %d, concurrency %d: %.0f jobs/s%@", run,
                             refresh ? ", a client loading \(refreshPath) every second" : ", no client", noopJobs, jobs, concurrency, rate,
                             refresh ? String(format: " (%d loads, median %.1f ms)", times.count, percentile(times.sorted(), 0.5)) : ""))
            }
        }
        let without = median(rates[false] ?? []), with = median(rates[true] ?? [])
        print(String(format: "compare-refresh medians: without a client %.0f jobs/s, with a client loading %@ every second %.0f jobs/s: ratio %.3f; the page's median load %.1f ms over %d loads",
                     without, refreshPath, with, with / max(without, 1), percentile(pageTimes.sorted(), 0.5), pageTimes.count))
    }

    /// GETs `path` every second while `worker` runs; returns each load's time in ms.
    private static func refresh(_ path: String, port: Int, until worker: RunningWorker) async -> [Double] {
        var times: [Double] = []
        while worker.isAlive {
            let start = ContinuousClock.now
            if let response = try? await HTTPProbe.get(path, port: port, timeout: .seconds(60)), response.status == 200 {
                times.append(seconds(since: start) * 1000)
            }
            try? await Task.sleep(until: start + .seconds(1))
        }
        return times
    }
}
