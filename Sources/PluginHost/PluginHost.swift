import Foundation
import Journal
import Logging
import WorkerPluginABI

/// Finds, checks, loads and calls plugins for one worker.
public final class PluginHost: @unchecked Sendable {  // `plugins` is filled by load() before any job starts
    /// The journal the host services write to.
    public let journal: Journal
    /// The worker the jobs run under.
    public let worker: String
    /// What plugins see through `drain_state`.
    public let drain: DrainSignal
    let logger: Logger
    /// Loaded plugins by handler name.
    public private(set) var plugins: [String: LoadedPlugin] = [:]

    /// A host with no plugin yet.
    public init(journal: Journal, worker: String, drain: DrainSignal = DrainSignal(), logger: Logger) {
        self.journal = journal
        self.worker = worker
        self.drain = drain
        self.logger = logger
    }

    /// The `*.so` files of a directory, sorted.
    public static func libraries(in directory: String) throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw PluginError(path: directory, reason: "cannot list the plugins directory: check the path")
        }
        return names.filter { $0.hasSuffix(".so") }.sorted().map { "\(directory)/\($0)" }
    }

    /// Checks and loads every file and every `*.so` of every directory. Stops at the first refusal.
    @discardableResult
    public func load(files: [String], directories: [String] = [], pins: PluginPins? = nil) throws -> [LoadedPlugin] {
        var loaded: [LoadedPlugin] = []
        var sources = files.map { ($0, ($0 as NSString).deletingLastPathComponent) }
        for directory in directories {
            sources += try Self.libraries(in: directory).map { ($0, directory) }
        }
        for (path, directory) in sources {
            let plugin = try Self.open(path, directory: directory, pins: pins)
            if let clash = Self.clash(of: plugin, with: plugins) { throw clash }
            for handler in plugin.handlers { plugins[handler] = plugin }
            loaded.append(plugin)
            logger.info("loaded plugin", metadata: [
                "plugin": "\(plugin.name)", "version": "\(plugin.version)", "sha256": "\(plugin.sha256)",
                "handlers": "\(plugin.handlers.joined(separator: ","))",
            ])
        }
        return loaded
    }

    /// Checks and opens one plugin file (no registration).
    public static func open(_ path: String, directory: String? = nil, pins: PluginPins? = nil) throws -> LoadedPlugin {
        let dir = directory ?? (path as NSString).deletingLastPathComponent
        let sha256 = try PluginFileCheck.check(path, directory: dir.isEmpty ? "." : dir, pins: pins)
        return try PluginLoader.open(path, sha256: sha256, services: HostServices.table)
    }

    /// The refusal of `plugin` when a handler it provides is one of `providers` already: two plugins may not
    /// provide the same handler.
    public static func clash(of plugin: LoadedPlugin, with providers: [String: LoadedPlugin]) -> PluginError? {
        guard let handler = plugin.handlers.first(where: { providers[$0] != nil }), let other = providers[handler] else { return nil }
        return PluginError(
            path: plugin.path, reason: "handler '\(handler)' is already provided by plugin \(other.name) (\(other.path)): load only one of them")
    }

    /// The plugin stamps to record on claimed jobs, by handler.
    public var stamps: [String: PluginStamp] { plugins.mapValues(\.stamp) }

    /// Hands a claimed job to the plugin providing its handler. `onEnd`, when given, receives the outcome on the
    /// thread that reports it — possibly before this returns; then call `release()` instead of `outcome()`.
    public func start(_ job: Job, onEnd: (@Sendable (PluginOutcome) -> Void)? = nil) throws -> JobExecution {
        guard let plugin = plugins[job.handler] else {
            throw PluginError(path: job.handler, reason: "no loaded plugin provides handler '\(job.handler)'")
        }
        let session = JobSession(job: job, journal: journal, worker: worker, logger: logger, drain: drain, onEnd: onEnd)
        let context = Unmanaged.passRetained(session).toOpaque()  // released by the completion callback
        var run: UnsafeMutableRawPointer?
        let status = plugin.descriptor.pointee.start(plugin.instance, session.job, completionCallback, context, &run)
        guard status == WP_OK else {
            Unmanaged<JobSession>.fromOpaque(context).release()  // no completion will come
            session.finish(.refused(status: status))
            return JobExecution(session: session, plugin: plugin, run: nil)
        }
        return JobExecution(session: session, plugin: plugin, run: run)
    }
}
