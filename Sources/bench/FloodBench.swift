import ArgumentParser
import Foundation
import Journal
import WorkerStore
import WorkerTestKit

struct DrainUnderFlood: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain-under-flood",
        abstract: "Time from TERM to exit with N sleep jobs in flight and drain deadline D, with and without a slowloris flood on --admin.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Sleep jobs in flight.") var inFlight: Int = 20
    @Option(help: "Drain deadline D in seconds.") var deadline: Double = 1
    @Option(help: "Seconds of flood before the TERM.") var floodSeconds: Double = 5
    @Option(help: "Connections the flood keeps open at most (its oldest are closed past that).") var connections: Int = 2000

    func run() async throws {
        for run in 1...common.runs {
            for flooded in [false, true] {
                try await measure(run: run, flooded: flooded)
            }
        }
    }

    private func measure(run: Int, flooded: Bool) async throws {
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = "\(dir)/bench.sqlite3"
        let journal = try Journal(path: db, options: common.journalOptions())
        _ = try await journal.enqueue(batch: Array(repeating: NewJob(handler: "sleep", payload: #"{"ms": 60000}"#), count: inFlight))
        let worker = try await RunningWorker.bench(
            db: db, ["--concurrency", "\(inFlight)", "--drain-timeout", "\(deadline)", "--admin", "127.0.0.1:0"], log: "\(dir)/worker.log")
        guard let port = await worker.adminPort(timeout: .seconds(3600)) else { throw ValidationError("no admin endpoint: \(worker.log)") }
        while (try await journal.stats()[.running] ?? 0) < inFlight { try await Task.sleep(for: .milliseconds(10)) }
        let baseline = openDescriptors(of: worker.pid) ?? 0
        let pid = worker.pid
        let flood: Task<FloodTally, Never>? = flooded ? Task.detached { [connections] in Self.flood(port: port, pid: pid, keep: connections) } : nil
        if flooded { try await Task.sleep(for: .seconds(floodSeconds)) }
        let health = try? await HTTPProbe.get("/healthz", port: port, timeout: .seconds(5))
        let start = ContinuousClock.now
        worker.signal(SIGTERM)
        await worker.exited()
        let exitMs = seconds(since: start) * 1000
        flood?.cancel()
        let tally = await flood?.value
        let stats = try await journal.stats()
        var line = String(
            format: "run %d, %@: %d sleep jobs in flight, D = %.1f s: TERM->exit %.0f ms (D + %.0f ms), interrupted %d, exit status %d",
            run, flooded ? "flood" : "no flood", inFlight, deadline, exitMs, exitMs - deadline * 1000, stats[.interrupted] ?? 0,
            worker.process.status ?? -1)
        if let tally {
            line += String(
                format: "; flood: %d connections in %.1f s (%.0f/s accepted), %d closed by the server, %d failed connects; worker descriptors %d before, peak %d; /healthz before TERM: %@",
                tally.connects, tally.seconds, Double(tally.connects) / tally.seconds, tally.closedByServer, tally.failed, baseline,
                tally.peakDescriptors, health.map { "\($0.status)" } ?? "no answer")
        }
        print(line)
    }

    struct FloodTally: Sendable {
        var connects = 0, failed = 0, closedByServer = 0, peakDescriptors = 0
        var seconds = 0.0
    }

    /// Opens half-open connections as fast as it can until cancelled, keeping at most `keep` of them open.
    private static func flood(port: Int, pid: Int32, keep: Int) -> FloodTally {
        let flood = ConnectionFlood(port: port)
        var tally = FloodTally()
        let start = ContinuousClock.now
        while !Task.isCancelled {
            let failedBefore = flood.failedConnects
            flood.open(50, .halfOpen, connectTimeout: .milliseconds(500))
            tally.connects += 50 - (flood.failedConnects - failedBefore)
            flood.reap()
            if flood.openCount > keep { flood.closeOldest(flood.openCount - keep) }
            tally.peakDescriptors = max(tally.peakDescriptors, openDescriptors(of: pid) ?? 0)
        }
        tally.seconds = seconds(since: start)
        tally.failed = flood.failedConnects
        tally.closedByServer = flood.closedByServer
        flood.closeAll()
        return tally
    }
}
