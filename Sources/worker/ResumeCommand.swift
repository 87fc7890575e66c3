import ArgumentParser
import Foundation
import WorkerStore
import WorkerApp

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
        let journal = try await database.open()
        let plan = try await RecoveryPlan.make(journal: journal)
        if json {
            Output.line(plan.json.text)
        } else {
            for line in plan.lines { Output.line(line) }
        }
        if dryRun { return }
        Output.flush()

        let launch = try await runtime.launch(journal: journal, options: try runtime.workerOptions())
        var ids = plan.jobs.map(\.id)
        let missing = Set(plan.jobs.map(\.handler)).subtracting(launch.handlers).sorted()
        if !missing.isEmpty {
            guard skipMissing else {
                throw CLIError(
                    .config,
                    "no loaded plugin provides handler\(missing.count > 1 ? "s" : "") \(missing.map { "'\($0)'" }.joined(separator: ", ")): load the plugin, or pass --skip-missing to leave those jobs waiting")
            }
            ids = plan.jobs.filter { launch.handlers.contains($0.handler) }.map(\.id)
        }
        guard !ids.isEmpty else {
            // Nothing to run here, but the dead workers' jobs still become interrupted, to wait for their plugin.
            try await launch.recoverWithoutRunning()
            return
        }
        let progress = Progress()
        let shown = Task { [ids] in  // on a terminal: how many of the resumed jobs are done
            while !Task.isCancelled {
                let left = (try? await journal.unfinishedCount(of: ids)) ?? ids.count
                progress.update("resume: \(ids.count - left) of \(ids.count) job(s) done")
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
        defer { progress.finish() }
        do {
            try await launch.run(signals: signals, onlyJobs: Set(ids))
        } catch {
            shown.cancel()
            await shown.value
            throw error
        }
        shown.cancel()
        await shown.value  // no line after the last one
    }
}

/// How `worker resume` shows its plan.
extension RecoveryPlan {

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
