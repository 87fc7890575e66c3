import Foundation
import WorkerStore
import Logging
import PluginHost
import ServiceLifecycle
import UnixSignals

/// One `worker run` (or `worker resume`): registers the worker (the journal holds its liveness lock), recovers dead workers' jobs
/// before taking new work, runs the dispatcher, heartbeat and signal services in one ServiceGroup, and
/// deregisters when the drain is done.
public struct WorkerProcess: Sendable {
    public let journal: any JobStore
    /// The loaded plugins.
    public let plugins: PluginSet
    public let options: WorkerOptions
    public let logger: Logger

    public init(journal: any JobStore, plugins: PluginSet, options: WorkerOptions, logger: Logger) {
        self.journal = journal
        self.plugins = plugins
        self.options = options
        self.logger = logger
    }

    /// The signals the worker handles. Install them first thing, so that an early TERM is not fatal.
    public static func trapSignals() async -> TrappedSignals {
        TrappedSignals(
            signals: await UnixSignalsSequence(trapping: .sigterm, .sigint, .sigquit, .sigusr1), quiet: await QuietSignal())
    }

    /// A new worker id: host, pid and a random suffix (a pid is reused; the id never is).
    public static func newWorkerID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? ""
        return "\(host.isEmpty ? "host" : host)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    /// The kernel's start time of this process (clock ticks since boot), to tell a reused pid apart.
    static func processStartTime() -> Int64? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        return fields.count > 19 ? Int64(fields[19]) : nil  // field 22 overall; 20th after the command name
    }

    /// Runs the worker until it is drained or idle. Sidecars (the admin endpoint) start first and run beside the
    /// dispatcher until the end; recovery waits for them. Without `signals` (tests) no signal is handled. `onReady` is called once recovery is done and intake
    /// opens, as is sd_notify's READY=1 when `notifier` is given.
    public func run(
        worker: String, signals: TrappedSignals?, sidecars: [any Sidecar] = [], notifier: SystemdNotifier? = nil,
        readiness: Readiness = Readiness(), metrics: JobMetrics = .disabled, clock: RuntimeClock = .system,
        onReady: @escaping @Sendable () -> Void = {}
    ) async throws {
        let signalHandling = SignalState.current()  // the plugins are loaded: what must hold from now on
        try await journal.register(WorkerRegistration(
            id: worker, pid: getpid(), host: ProcessInfo.processInfo.hostName, processStartedAt: Self.processStartTime(),
            version: "worker", handlers: plugins.handlers))
        var logger = self.logger
        logger[metadataKey: "worker"] = "\(worker)"
        let dispatcher = Dispatcher(
            journal: journal, plugins: plugins, worker: worker, options: options, logger: logger, readiness: readiness, metrics: metrics,
            clock: clock)
        let supervisor = notifier.map { SupervisorNotifications(notifier: $0, readiness: readiness, dispatcher: dispatcher, logger: logger) }
        journal.onNewWork { Task { await dispatcher.nudge() } }  // enqueues in this process wake it at once
        let failure = Failure()
        let boot: @Sendable () async throws -> Void = { [journal, plugins, options, logger] in
            for sidecar in sidecars { try await sidecar.started() }
            let recovered = try await Recovery.recoverDead(
                journal: journal, recoverer: worker, maxCrashes: options.maxCrashes,
                logger: logger, metrics: metrics)
            let jobs = recovered.reduce(0) { $0 + $1.jobs.count }
            logger.notice("ready: \(plugins.handlers.count) handler(s), concurrency \(options.concurrency), recovered \(jobs) job(s) of \(recovered.count) dead worker(s)")
            readiness.bootDone()
            onReady()
        }
        // A group shuts its services down in reverse order, each after the one before it returned. Sidecars come
        // first, so they stay up to the end (`/readyz` answers 503 through the whole drain); the dispatcher comes
        // last, so a shutdown drains it while the signals and the heartbeat are still served.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = sidecars.map {
            .init(service: SidecarService(sidecar: $0, dispatcher: dispatcher, failure: failure, logger: logger))
        }
        services.append(.init(service: HeartbeatService(
            journal: journal, dispatcher: dispatcher, plugins: plugins, options: options,
            readiness: readiness, supervisor: supervisor, metrics: metrics, failure: failure,
            signalHandling: signalHandling, logger: logger)))
        if let signals {
            services.append(.init(service: SignalService(signals: signals.signals, quiet: signals.quiet, dispatcher: dispatcher, logger: logger)))
        }
        if let age = options.pruneCompletedOlderThan {
            services.append(.init(service: PruneService(
                journal: journal, age: age, interval: options.pruneInterval, readiness: readiness, logger: logger)))
        }
        services.append(.init(service: ScheduleService(
            journal: journal, worker: worker, readiness: readiness, metrics: metrics, logger: logger)))
        services.append(.init(
            service: DispatcherService(dispatcher: dispatcher, boot: boot), successTerminationBehavior: .gracefullyShutdownGroup))
        var configuration = ServiceGroupConfiguration(
            services: services, logger: Logger(label: "worker.services", factory: { _ in SwiftLogNoOpLogHandler() }))
        // The group shuts down once the drain is done: what is left (a stuck admin client, say) gets 2 s, then it
        // is cancelled, so the worker still exits within its drain + 2 s.
        configuration.maximumGracefulShutdownDuration = .seconds(2)
        let group = ServiceGroup(configuration: configuration)
        do {
            try await group.run()
        } catch {
            // Nothing was claimed if a sidecar failed to start; otherwise the dispatcher recorded every job.
            try? await journal.deregister(worker: worker, reason: "failed: \(error)")
            throw error
        }
        if let error = failure.recorded {
            try? await journal.deregister(worker: worker, reason: "failed: \(error)")
            throw error
        }
        try await journal.deregister(worker: worker, reason: "stopped")
        let report = await dispatcher.report()
        logger.notice("stopped: \(report)")
        if let stranded = await dispatcher.stranded { throw stranded }
    }
}

/// The signals a worker handles, trapped as early as possible.
public struct TrappedSignals: Sendable {
    let signals: UnixSignalsSequence
    let quiet: QuietSignal

    /// Returns at the first TERM, INT or QUIT (for a process that runs no jobs: `worker dashboard`); USR1 is
    /// ignored.
    public func stopRequested() async {
        for await signal in signals where signal != .sigusr1 { return }
    }
}
