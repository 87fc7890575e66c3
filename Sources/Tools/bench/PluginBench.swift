import ArgumentParser
import Foundation
import Journal
import WorkerStore
import Logging
import PluginHost
import WorkerRuntime
import WorkerTestKit

struct PluginLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-load",
        abstract: "Time to check, hash, dlopen, validate and create a plugin: K distinct copies of ExamplePlugins, loaded one after another.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Copies to load (each a distinct file, so each is really opened).") var copies: Int = 20
    @Option(help: "The plugin library (default: next to this binary).") var plugin: String?

    func run() async throws {
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = try Data(contentsOf: URL(fileURLWithPath: plugin ?? PluginFixtures.examples))
        var times: [Double] = []
        for index in 0..<copies {
            let path = "\(dir)/copy\(index).so"
            try source.write(to: URL(fileURLWithPath: path))
            let start = ContinuousClock.now
            _ = try PluginHost.open(path)
            times.append(seconds(since: start) * 1000)
        }
        times.sort()
        print(String(format: "plugin-load: %d loads of a %.1f MiB plugin: median %.2f ms, max %.2f ms, min %.2f ms",
                     copies, Double(source.count) / 1_048_576, percentile(times, 0.5), times.last ?? 0, times.first ?? 0))
    }
}

struct PluginDispatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-dispatch",
        abstract: "Cost of running a noop job through the C ABI (start, task, completion) against a direct Swift call on a task.")

    @OptionGroup var common: CommonBenchOptions
    @Option(help: "Jobs per run.") var jobs: Int = 20_000
    @Option(help: "The plugin library (default: next to this binary).") var plugin: String?

    func run() async throws {
        let dir = try common.freshDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let journal = try Journal(path: "\(dir)/bench.sqlite3", options: common.journalOptions())
        try await journal.register(WorkerRegistration(id: "bench", pid: getpid(), host: "bench", processStartedAt: nil, version: "bench"))
        let plugins = try PluginHost.load(files: [plugin ?? PluginFixtures.examples], logger: Logger(label: "bench"))
        let services = StoreJobServices(store: journal, worker: "bench")
        for run in 1...common.runs {
            _ = try await journal.enqueue(batch: Array(repeating: NewJob(handler: "noop"), count: jobs))
            var claimed: [Job] = []
            while claimed.count < jobs {
                claimed += try await journal.claim(ClaimRequest(worker: "bench", limit: 1000))
            }
            var start = ContinuousClock.now
            for job in claimed {
                _ = try await plugins.start(HostedJob(job), services: services).outcome()
            }
            let abi = seconds(since: start) / Double(jobs) * 1e6
            start = ContinuousClock.now
            for job in claimed {
                _ = await Task.detached { await directNoop(job.payload) }.value
            }
            let direct = seconds(since: start) / Double(jobs) * 1e6
            print(String(format: "run %d: %d noop jobs: through the ABI %.1f µs each, direct Swift call on a task %.1f µs, overhead %.1f µs",
                         run, jobs, abi, direct, abi - direct))
            _ = try await journal.finish(batch: claimed.map { ($0.id, JobOutcome.completed) }, worker: "bench")
        }
    }
}

/// The baseline: what a handler call costs without the plugin boundary.
@inline(never)
func directNoop(_ payload: String) async -> Int {
    payload.utf8.count
}
