import ArgumentParser
import Foundation
import Journal
import WorkerStore
import WorkerTestKit

/// The chaos runner: mixed workloads on one journal with one to three `worker run` processes, a random worker
/// killed at a random moment each cycle (SIGKILL, SIGTERM, or SIGTERM twice) and started again, then a final
/// drain and the checks of docs/reliability.md. Exit 0 when every invariant holds, 1 when one does not.
@main
struct Chaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Kill workers at random under mixed load, then prove from the journal and the effect files that nothing was lost or completed twice.")

    @Option(help: "Kill cycles.") var cycles = 20
    @Option(help: "Concurrent `worker run` processes (1 to 3).") var workers = 2
    @Option(help: "Jobs enqueued per cycle.") var jobsPerCycle = 12
    @Option(help: "Random seed (default: random; printed, to replay a run).") var seed: UInt64?
    @Option(help: "Directory for the run (default: a new one under $TMPDIR or /tmp, removed when all holds).") var dir: String?
    @Option(help: "The journal: a postgres:// URL of an empty database to run on PostgreSQL (default: a new SQLite file in the run's directory).") var db: String?
    @Flag(help: "Print each kill.") var verbose = false

    func validate() throws {
        guard (1...3).contains(workers) else { throw ValidationError("--workers is \(workers): pass 1, 2 or 3") }
        guard cycles >= 1, jobsPerCycle >= 1 else { throw ValidationError("--cycles and --jobs-per-cycle: pass 1 or more") }
    }

    func run() async throws {
        let seed = self.seed ?? UInt64.random(in: 1...UInt64.max)
        var random = SplitMix(seed: seed)
        let base = dir ?? "\(ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp")/worker-chaos-\(getpid())-\(seed)"
        try FileManager.default.createDirectory(atPath: "\(base)/effects", withIntermediateDirectories: true)
        print("chaos: seed \(seed), \(cycles) cycle(s), \(workers) worker(s), in \(base)")
        var run = try await ChaosRun(base: base, workers: workers, verbose: verbose, db: db)
        try await run.start()
        for cycle in 1...cycles {
            try await run.enqueueMix(count: jobsPerCycle, cycle: cycle, random: &random)
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...600, using: &random)))
            try await run.killOne(random: &random)
            try await run.restartTheDead()
        }
        let report = try await run.finish()
        print(report.summary)
        if report.holds {
            if dir == nil { try? FileManager.default.removeItem(atPath: base) }
        } else {
            print("chaos: INVARIANT BROKEN; the journal and logs are kept in \(base)")
            throw ExitCode(1)
        }
    }
}

/// A small, seedable generator (SplitMix64): a run is replayed from its seed (the kill timing still varies).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
