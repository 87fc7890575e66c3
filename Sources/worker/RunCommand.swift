import ArgumentParser
import Foundation
import WorkerStore
import Logging
import PluginHost
import WorkerAdmin
import WorkerApp
import WorkerRuntime

/// Options `worker run` and `worker resume` share.
struct RuntimeOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Jobs run at once: \(Ranges.concurrency.bounds).", transform: Ranges.concurrency.argument)
    var concurrency: Int = 10

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Jobs claimed ahead of free slots, started as soon as a slot frees: auto (as many as start within two commits, at most 20 per slot; none for long jobs) or a number (0: none).",
        valueName: "auto|N"), transform: Prefetch.parse)
    var prefetch: Prefetch = .auto

    @Option(parsing: .unconditional, help: "Seconds in-flight jobs get to finish after TERM/INT before they are cancelled and marked interrupted (\(Ranges.drainTimeout.bounds)). Default: $WORKER_DRAIN_TIMEOUT, else 7 (the worker then exits within 10 s of TERM).", transform: Ranges.drainTimeout.argument)
    var drainTimeout: Double?

    @Option(help: "A plugin file to load (repeatable).")
    var plugin: [String] = []

    @Option(help: "Load every *.so in this directory.")
    var plugins: String?

    @Option(help: "A pins file (sha256sum format): every plugin must be listed with its SHA-256.")
    var pluginPins: String?

    @Option(help: "Log lines as text or json. Default: $WORKER_LOG_FORMAT, else text.")
    var logFormat: String?

    func workerOptions() throws -> WorkerOptions {
        var options = WorkerOptions()
        options.concurrency = concurrency
        options.prefetch = prefetch
        if let seconds = try drainTimeout ?? Ranges.drainTimeout.environment("WORKER_DRAIN_TIMEOUT") {
            options.drainTimeout = .seconds(seconds)
        }
        return options
    }

    /// The worker, its plugins loaded; a rejected one ends the command with exit 78 (66 for a missing file) and
    /// one line naming it, before the worker registers or touches a job.
    func launch(journal: any JobStore, options: WorkerOptions) async throws -> WorkerLaunch {
        if plugin.isEmpty && plugins == nil {
            throw CLIError(.config, "no plugins to run jobs with: pass --plugin FILE or --plugins DIR (e.g. --plugins .build/release)")
        }
        let files: [String]
        do {
            files = plugin + (try plugins.map(PluginHost.libraries(in:)) ?? [])  // a directory without plugins is refused
        } catch let error as PluginError {
            throw CLIError(error.status, error.reason)  // the reason names the directory
        }
        var launch = WorkerLaunch(journal: journal, options: options, logger: Logger(label: "worker"))
        do {
            try await launch.loadPlugins(files, pins: pluginPins) { error in
                FileHandle.standardError.write(Data("worker: error: \(error.description); no job was touched\n".utf8))
            }
        } catch let error as PluginError {
            throw CLIError(error.status, "\(error.description); no job was touched")
        }
        return launch
    }
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the worker: recover what dead workers held, then work the queues until TERM/INT (drain) or, with --exit-when-idle, until no job is left.")

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var runtime: RuntimeOptions

    @Option(help: "Only this queue (repeatable). Default: every queue.")
    var queue: [String] = []

    @Flag(help: "Exit 0 once no job is queued, running, retrying or interrupted (scheduled jobs do not count).")
    var exitWhenIdle = false

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Serve /healthz, /readyz, /metrics (Prometheus) and the dashboard here; a bare port listens on loopback. Default: off.",
        valueName: "HOST:PORT"), transform: AdminAddress.parse)
    var admin: AdminAddress?

    @OptionGroup var adminOptions: AdminOptions

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Delete completed jobs that finished longer ago than this, at start and every hour (e.g. 7d, 12h, 90m).",
        valueName: "AGE"), transform: Age.parse)
    var pruneCompletedOlderThan: Age?

    func validate() throws {
        try adminOptions.check(admin: admin)
    }

    func run() async throws {
        let signals = await EarlySignals.take()
        var options = try runtime.workerOptions()
        options.queues = queue
        options.exitWhenIdle = exitWhenIdle
        options.pruneCompletedOlderThan = pruneCompletedOlderThan?.duration
        let dashboard = try adminOptions.settings()
        let journal = try await database.open()
        let adminJournal = admin == nil ? nil : try await database.openSeparateReader()
        try await runtime.launch(journal: journal, options: options).run(
            signals: signals, admin: admin, dashboard: dashboard, adminJournal: adminJournal)
    }
}

extension Prefetch {
    /// For `@Option(transform:)`: `auto` or a number of jobs in `Ranges.prefetch`.
    static func parse(_ argument: String) throws -> Prefetch {
        if argument == "auto" { return .auto }
        guard let count = Ranges.prefetch.value(argument) else {
            throw ValidationError("pass auto or \(Ranges.prefetch.expected)")
        }
        return .fixed(count)
    }
}
