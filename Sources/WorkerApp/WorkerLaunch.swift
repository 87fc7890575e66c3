import WorkerStore
import Logging
import PluginHost
import WorkerAdmin
import WorkerRuntime

/// The composition root of `worker run` and `worker resume`: one worker id, its plugins (checked in child
/// processes, then loaded), sd_notify, the metrics registry and the admin endpoint, assembled here once and
/// handed to `WorkerProcess`. The command line only parses its options into these values and calls `run`.
public struct WorkerLaunch: Sendable {
    public let journal: any JobStore
    public let options: WorkerOptions
    public let logger: Logger
    /// This worker's id in the journal.
    public let worker: String
    /// The loaded plugins: none until `loadPlugins`.
    public private(set) var plugins: PluginSet

    /// A worker on `journal` with a new id; nothing is loaded or registered yet.
    public init(journal: any JobStore, options: WorkerOptions, logger: Logger) {
        self.journal = journal
        self.options = options
        self.logger = logger
        worker = WorkerProcess.newWorkerID()
        plugins = PluginSet(logger: logger)
    }

    /// The handlers the loaded plugins provide.
    public var handlers: Set<String> { Set(plugins.handlers) }

    /// Loads the plugin `files`: each is first loaded in a child process (see `PluginPreflight`), so that one
    /// that crashes or ends the process while it loads is named, before the worker registers or touches a job.
    /// Throws the first refusal (`PluginError`). `pins` is a pins file (sha256sum format): every plugin must be
    /// listed in it with its SHA-256. Should a plugin end the process while it loads here all the same,
    /// `onExitWhileLoading` is the last word the process says.
    public mutating func loadPlugins(
        _ files: [String], pins: String?, onExitWhileLoading: @escaping @Sendable (PluginError) -> Void = { _ in }
    ) async throws {
        let pinned = try pins.map(PluginPins.init(file:))
        try await PluginPreflight.check(files, pins: pins)
        PluginHost.onExitWhileLoading(onExitWhileLoading)
        plugins = try PluginHost.load(files: files, pins: pinned, logger: logger)
    }

    /// Runs the worker until it is drained or idle (see `WorkerProcess.run`), with sd_notify when
    /// `$NOTIFY_SOCKET` is set and, with `admin`, the health, readiness and metrics endpoint and the dashboard
    /// (`dashboard` settings), which reads and acts through `adminJournal` when given: on SQLite a connection of its
    /// own, so that its reads never wait for or delay the worker's claims on the journal's connection.
    public func run(
        signals: TrappedSignals, admin: AdminAddress? = nil, dashboard: DashboardSettings = DashboardSettings(),
        adminJournal: (any JobStore)? = nil, onlyJobs: Set<Int64>? = nil
    ) async throws {
        var options = self.options
        if let onlyJobs {
            options.onlyJobs = onlyJobs
            options.exitWhenIdle = true
        }
        let supervision = try Supervision(admin: admin, journal: journal, adminJournal: adminJournal, dashboard: dashboard, logger: logger)
        try await WorkerProcess(journal: journal, plugins: plugins, options: options, logger: logger).run(
            worker: worker, signals: signals, sidecars: supervision.sidecars, notifier: supervision.notifier,
            readiness: supervision.readiness, metrics: supervision.metrics)
    }

    /// Records the jobs of dead workers `interrupted` without running anything (a resume that has nothing it can
    /// run: they wait for their plugin).
    public func recoverWithoutRunning() async throws {
        _ = try await Recovery.recoverDead(journal: journal, recoverer: nil, maxCrashes: options.maxCrashes, logger: logger)
    }
}
