import Foundation
import Journal
import Logging
import PluginHost
import ServiceLifecycle
import UnixSignals

/// One `worker run` (or `worker resume`): registers the worker under a kernel lock, recovers dead workers' jobs
/// before taking new work, runs the dispatcher, heartbeat and signal services in one ServiceGroup, and
/// deregisters when the drain is done.
public struct WorkerProcess: Sendable {
    public let journal: Journal
    public let host: PluginHost
    public let options: WorkerOptions
    public let logger: Logger
    public let lockDirectory: String

    public init(journal: Journal, host: PluginHost, options: WorkerOptions, logger: Logger, lockDirectory: String) {
        self.journal = journal
        self.host = host
        self.options = options
        self.logger = logger
        self.lockDirectory = lockDirectory
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

    /// Runs the worker until it is drained or idle. `onReady` is called once recovery is done and intake opens.
    public func run(worker: String, signals: TrappedSignals, onReady: @Sendable () -> Void = {}) async throws {
        let lock = try WorkerLock(directory: lockDirectory, worker: worker)
        defer { lock.release() }
        try await journal.register(WorkerRegistration(
            id: worker, pid: getpid(), host: ProcessInfo.processInfo.hostName, processStartedAt: Self.processStartTime(),
            version: "worker"))
        var logger = self.logger
        logger[metadataKey: "worker"] = "\(worker)"
        let recovered = try await Recovery.recoverDead(
            journal: journal, lockDirectory: lockDirectory, recoverer: worker, maxCrashes: options.maxCrashes, logger: logger)
        let jobs = recovered.reduce(0) { $0 + $1.jobs.count }
        logger.notice("ready: \(host.plugins.count) handler(s), concurrency \(options.concurrency), recovered \(jobs) job(s) of \(recovered.count) dead worker(s)")
        onReady()
        let dispatcher = Dispatcher(journal: journal, host: host, worker: worker, options: options, logger: logger)
        journal.onNewWork { Task { await dispatcher.nudge() } }  // enqueues in this process wake it at once
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [
                .init(service: DispatcherService(dispatcher: dispatcher), successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: HeartbeatService(
                    journal: journal, dispatcher: dispatcher, host: host, lockDirectory: lockDirectory, options: options,
                    logger: logger)),
                .init(service: SignalService(signals: signals.signals, quiet: signals.quiet, dispatcher: dispatcher, logger: logger)),
            ],
            logger: Logger(label: "worker.services", factory: { _ in SwiftLogNoOpLogHandler() })))
        try await group.run()
        try await journal.deregister(worker: worker, reason: "stopped")
        let status = await dispatcher.status()
        logger.notice("stopped: \(status)")
    }
}

/// The signals a worker handles, trapped as early as possible.
public struct TrappedSignals: Sendable {
    let signals: UnixSignalsSequence
    let quiet: QuietSignal
}
