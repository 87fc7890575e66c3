import ArgumentParser
import Foundation
import Journal
import Logging
import PluginHost
import WorkerRuntime

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "After a crash: find the jobs dead workers held and the interrupted ones, print the plan, run exactly those jobs, exit 0 when they are done.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var runtime: RuntimeOptions

    @Flag(help: "Print the recovery plan and change nothing.")
    var dryRun = false

    @Flag(help: "Leave jobs whose handler no plugin provides waiting, instead of refusing (exit 78).")
    var skipMissing = false

    @Flag(help: "Print the plan as JSON.")
    var json = false

    func run() async throws {
        let signals = await EarlySignals.take()
        let journal = try database.open()
        let plan = try await RecoveryPlan.make(journal: journal)
        if json {
            Output.line(plan.json.text)
        } else {
            for line in plan.lines { Output.line(line) }
        }
        if dryRun { return }
        Output.flush()

        let worker = WorkerProcess.newWorkerID()
        let logger = Logger(label: "worker")
        let host = PluginHost(journal: journal, worker: worker, logger: logger)
        try await runtime.loadPlugins(into: host)
        var ids = plan.jobs.map(\.id)
        let missing = Set(plan.jobs.map(\.handler)).subtracting(host.plugins.keys).sorted()
        if !missing.isEmpty {
            guard skipMissing else {
                throw CLIError(
                    .config,
                    "no loaded plugin provides handler\(missing.count > 1 ? "s" : "") \(missing.map { "'\($0)'" }.joined(separator: ", ")): load the plugin, or pass --skip-missing to leave those jobs waiting")
            }
            ids = plan.jobs.filter { host.plugins[$0.handler] != nil }.map(\.id)
        }
        guard !ids.isEmpty else {
            // Nothing to run here, but the dead workers' jobs still become interrupted, to wait for their plugin.
            _ = try await Recovery.recoverDead(
                journal: journal, recoverer: nil, maxCrashes: WorkerOptions().maxCrashes,
                logger: logger)
            return
        }
        var options = try runtime.workerOptions()
        options.onlyJobs = Set(ids)
        options.exitWhenIdle = true
        let process = WorkerProcess(journal: journal, host: host, options: options, logger: logger)
        let progress = Progress()
        let shown = Task { [ids] in  // on a terminal: how many of the resumed jobs are done
            while !Task.isCancelled {
                let left = (try? await journal.unfinishedCount(of: ids)) ?? ids.count
                progress.update("resume: \(ids.count - left) of \(ids.count) job(s) done")
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
        do {
            try await Supervision(admin: nil, journal: journal, logger: logger).run(process, worker: worker, signals: signals)
        } catch {
            shown.cancel()
            await shown.value
            progress.finish()
            throw error
        }
        shown.cancel()
        await shown.value  // no line after the last one
        progress.finish()
    }
}

/// What `worker resume` found: jobs held by dead workers, and interrupted jobs.
struct RecoveryPlan {
    struct Dead {
        let worker: String
        let pid: Int32?
        let jobs: [Job]
    }

    let dead: [Dead]
    let interrupted: [Job]

    var jobs: [Job] { dead.flatMap(\.jobs) + interrupted }

    static func make(journal: Journal) async throws -> RecoveryPlan {
        let deadWorkers = try await journal.deadWorkers(except: nil)
        let running = deadWorkers.isEmpty ? [] : try await journal.jobs(JobFilter(state: .running, limit: Int.max))
        let held = Dictionary(grouping: running) { $0.workerID ?? "" }
        let dead = deadWorkers.map { Dead(worker: $0.id, pid: $0.pid, jobs: held[$0.id] ?? []) }
        let interrupted = try await journal.jobs(JobFilter(state: .interrupted, limit: Int.max))
        return RecoveryPlan(dead: dead, interrupted: interrupted)
    }

    var lines: [String] {
        var lines = ["recovery plan: \(jobs.count) job(s) to resume"]
        for worker in dead {
            lines.append("dead worker \(worker.worker) (pid \(worker.pid.map(String.init) ?? "unknown")): \(worker.jobs.count) running job(s)")
            lines += worker.jobs.map { "  " + Self.describe($0) }
        }
        lines.append("interrupted: \(interrupted.count) job(s)")
        lines += interrupted.map { "  " + Self.describe($0) }
        return lines
    }

    var json: JSON {
        .object([
            ("dead_workers", .array(dead.map { worker in
                .object([
                    ("worker", .string(worker.worker)), ("pid", worker.pid.map { .int(Int64($0)) } ?? .null),
                    ("jobs", .array(worker.jobs.map(\.json))),
                ])
            })),
            ("interrupted", .array(interrupted.map(\.json))),
            ("jobs_to_resume", .int(Int64(jobs.count))),
        ])
    }

    static func describe(_ job: Job) -> String {
        let now = WallClock.system.now()
        let age = job.checkpointAt.map { "checkpoint \(Self.age(now - $0)) old" } ?? "no checkpoint"
        let plugin = job.plugin.map { "plugin \($0.name) \($0.version)" } ?? "no plugin yet"
        return "job \(job.id) \(job.handler): attempt \(job.attempts) of \(job.maxAttempts), \(age), \(plugin)"
    }

    static func age(_ micros: Micros) -> String {
        let seconds = Double(micros) / 1_000_000
        return seconds < 120 ? String(format: "%.1f s", seconds) : String(format: "%.0f min", seconds / 60)
    }
}
