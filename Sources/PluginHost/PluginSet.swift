import Logging
import WorkerPluginABI

/// The plugins one worker loaded, by handler: fixed once loaded (see `PluginHost.load`), shared by every job.
public struct PluginSet: Sendable {
    /// Loaded plugins by handler name.
    public let plugins: [String: LoadedPlugin]
    /// What the plugins see through `drain_state`.
    public let drain: DrainSignal
    let logger: Logger

    /// No plugin yet.
    public init(drain: DrainSignal = DrainSignal(), logger: Logger) {
        self.init(plugins: [:], drain: drain, logger: logger)
    }

    init(plugins: [String: LoadedPlugin], drain: DrainSignal, logger: Logger) {
        self.plugins = plugins
        self.drain = drain
        self.logger = logger
    }

    /// The handlers the plugins provide, sorted.
    public var handlers: [String] { plugins.keys.sorted() }

    /// Which plugin runs the jobs of each handler, to record on the jobs it runs.
    public var identities: [String: PluginIdentity] { plugins.mapValues(\.identity) }

    /// Hands a claimed job to the plugin providing its handler; its checkpoints and steps go to `services`.
    /// `onEnd`, when given, receives the outcome on the thread that reports it — possibly before this returns; then
    /// call `release()` instead of `outcome()`.
    public func start(
        _ job: HostedJob, services: any JobServices, onEnd: (@Sendable (PluginOutcome) -> Void)? = nil
    ) throws -> JobExecution {
        guard let plugin = plugins[job.handler] else {
            throw PluginError(path: job.handler, reason: "no loaded plugin provides handler '\(job.handler)'")
        }
        let session = JobSession(job: job, plugin: plugin.name, services: services, logger: logger, drain: drain, onEnd: onEnd)
        SessionRegistry.shared.add(session)  // held there until the plugin completes the job
        let context = UnsafeMutableRawPointer(bitPattern: session.token)
        var run: UnsafeMutableRawPointer?
        let status = plugin.descriptor.pointee.start(plugin.instance, session.job, completionCallback, context, &run)
        guard status == WP_OK else {
            _ = SessionRegistry.shared.end(session.token, for: "completion after start() refused the job")
            session.finish(.refused(status: status))
            return JobExecution(session: session, plugin: plugin, run: nil)
        }
        return JobExecution(session: session, plugin: plugin, run: run)
    }
}
