import ArgumentParser
import Foundation
import Journal
import Synchronization
import WorkerStore
import WorkerTestKit

/// Whether hostile dashboard clients can slow the worker: no-op throughput and the drain, each without and with
/// clients asking for the dashboard's heaviest pages back to back (no pause between requests).
struct DashboardLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard-load",
        abstract: "No-op throughput and TERM-to-exit of `worker run --admin`, without and with clients hammering the dashboard's heaviest pages.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "No-op jobs per throughput run.") var jobs: Int = 30_000
    @Option(help: "Completed jobs already in the journal (the pages' history to read).") var history: Int = 100_000
    @Option(help: "Clients, each asking without pause.") var clients: Int = 4
    @Option(help: "Sleep jobs in flight at the TERM.") var inFlight: Int = 20
    @Option(help: "Drain deadline D in seconds.") var deadline: Double = 1

    /// What the clients ask for, in turn: a scan for text no job has, the overview, a page of the history, a job.
    static let paths = ["/jobs?q=no-such-text-anywhere", "/", "/api/overview", "/jobs?state=completed&limit=200", "/jobs/1", "/workers"]

    func run() async throws {
        var rates: [Bool: [Double]] = [:]
        var exits: [Bool: [Double]] = [:]
        for run in 1...common.runs {
            for hammered in [false, true] {
                rates[hammered, default: []].append(try await throughput(run: run, hammered: hammered))
            }
            for hammered in [false, true] {
                exits[hammered, default: []].append(try await drain(run: run, hammered: hammered))
            }
        }
        let plain = median(rates[false] ?? []), loaded = median(rates[true] ?? [])
        print(String(format: "dashboard-load median: %.0f jobs/s without clients, %.0f with %d hammering clients (%.3f of it); TERM->exit %.0f ms without, %.0f ms with (D = %.1f s)",
                     plain, loaded, clients, loaded / plain, median(exits[false] ?? []), median(exits[true] ?? []), deadline))
    }

    /// A journal with `history` completed jobs, then `count` jobs of `handler` queued.
    private func journal(in dir: String, queue count: Int, _ job: NewJob) async throws -> (String, Journal) {
        let db = "\(dir)/bench.sqlite3"
        let journal = try Journal(path: db, options: common.journalOptions())
        if history > 0 {
            try await fill(journal, jobs: history)
            try await journal.register(WorkerRegistration(id: "finisher", pid: 1, host: "bench", processStartedAt: nil, version: "bench"))
            try await completeAll(journal, worker: "finisher", batch: 10_000)
            try await journal.deregister(worker: "finisher", reason: "stopped")
        }
        var left = count
        while left > 0 {
            let batch = min(left, 10_000)
            _ = try await journal.enqueue(batch: Array(repeating: job, count: batch))
            left -= batch
        }
        return (db, journal)
    }

    private func throughput(run: Int, hammered: Bool) async throws -> Double {
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (db, journal) = try await journal(in: dir, queue: jobs, NewJob(handler: "noop"))
        let worker = try await RunningWorker.bench(
            db: db, ["--exit-when-idle", "--concurrency", "10", "--synchronous", common.synchronous, "--admin", "127.0.0.1:0"],
            log: "\(dir)/worker.log")
        guard let port = await worker.adminPort(timeout: .seconds(3600)) else { throw ValidationError("no admin endpoint: \(worker.log)") }
        let load = hammered ? Hammer(port: port, clients: clients, paths: Self.paths) : nil
        try await worker.ready()
        let start = ContinuousClock.now
        await worker.exited()
        let rate = Double(jobs) / seconds(since: start)
        let tally = load?.stop()
        let completed = try await journal.stats()[.completed] ?? 0
        print(String(format: "run %d, throughput %@: %d of %d no-op jobs (history %d): %.0f jobs/s%@", run, hammered ? "hammered" : "alone",
                     completed - history, jobs, history, rate, tally.map { "; \($0)" } ?? ""))
        return rate
    }

    private func drain(run: Int, hammered: Bool) async throws -> Double {
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (db, journal) = try await journal(in: dir, queue: inFlight, NewJob(handler: "sleep", payload: #"{"ms": 60000}"#))
        let worker = try await RunningWorker.bench(
            db: db, ["--concurrency", "\(inFlight)", "--drain-timeout", "\(deadline)", "--admin", "127.0.0.1:0"], log: "\(dir)/worker.log")
        guard let port = await worker.adminPort(timeout: .seconds(3600)) else { throw ValidationError("no admin endpoint: \(worker.log)") }
        while (try await journal.stats()[.running] ?? 0) < inFlight { try await Task.sleep(for: .milliseconds(10)) }
        let load = hammered ? Hammer(port: port, clients: clients, paths: Self.paths) : nil
        if hammered { try await Task.sleep(for: .seconds(3)) }
        let start = ContinuousClock.now
        worker.signal(SIGTERM)
        await worker.exited()
        let exitMs = seconds(since: start) * 1000
        let tally = load?.stop()
        let stats = try await journal.stats()
        print(String(format: "run %d, drain %@: %d sleep jobs in flight, D = %.1f s: TERM->exit %.0f ms, interrupted %d, exit status %d%@", run,
                     hammered ? "hammered" : "alone", inFlight, deadline, exitMs, stats[.interrupted] ?? 0, worker.process.status ?? -1,
                     tally.map { "; \($0)" } ?? ""))
        return exitMs
    }
}

/// Clients asking the admin endpoint for `paths` in turn, each on its own thread, back to back, until stopped.
final class Hammer: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let answered = Atomic<Int>(0)
    private let failed = Atomic<Int>(0)
    private let firstFailure = Mutex<String?>(nil)
    private let start = ContinuousClock.now

    init(port: Int, clients: Int, paths: [String]) {
        for client in 0..<clients {
            Thread { [self] in
                var index = client
                while !stopped.load(ordering: .relaxed) {
                    let path = paths[index % paths.count]
                    index += 1
                    let semaphore = DispatchSemaphore(value: 0)
                    Task.detached { [self] in
                        do {
                            let response = try await HTTPProbe.get(path, port: port, timeout: .seconds(30))
                            if response.status < 500 {
                                answered.add(1, ordering: .relaxed)
                            } else {
                                failed.add(1, ordering: .relaxed)
                                firstFailure.withLock { $0 = $0 ?? "\(response.status) \(response.body.prefix(100))" }
                            }
                        } catch {
                            failed.add(1, ordering: .relaxed)
                            firstFailure.withLock { $0 = $0 ?? "\(error)" }
                        }
                        semaphore.signal()
                    }
                    semaphore.wait()
                }
            }.start()
        }
    }

    /// Stops the clients; what they got.
    func stop() -> String {
        stopped.store(true, ordering: .relaxed)
        let elapsed = seconds(since: start)
        let answered = answered.load(ordering: .relaxed)
        return String(format: "clients: %d answers (%.0f/s), %d failed or refused (first: %@)", answered, Double(answered) / elapsed,
                      failed.load(ordering: .relaxed), firstFailure.withLock { $0 } ?? "none")
    }
}
