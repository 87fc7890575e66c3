import Foundation
import WorkerStore
import Logging
import WorkerPluginABI

/// Finds, checks, loads and calls plugins for one worker.
public final class PluginHost: @unchecked Sendable {  // `plugins` is filled by load() before any job starts
    /// The journal the host services write to.
    public let journal: any JobStore
    /// The worker the jobs run under.
    public let worker: String
    /// What plugins see through `drain_state`.
    public let drain: DrainSignal
    let logger: Logger
    /// Loaded plugins by handler name.
    public private(set) var plugins: [String: LoadedPlugin] = [:]

    /// A host with no plugin yet.
    public init(journal: any JobStore, worker: String, drain: DrainSignal = DrainSignal(), logger: Logger) {
        self.journal = journal
        self.worker = worker
        self.drain = drain
        self.logger = logger
    }

    /// The `*.so` files of a directory, sorted.
    public static func libraries(in directory: String) throws -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            let missing = !FileManager.default.fileExists(atPath: directory)
            throw PluginError(
                path: directory, reason: missing ? "no such plugins directory \(directory): check the path" : "cannot list the plugins directory \(directory): check its permissions",
                kind: missing ? .missing : .refused)
        }
        let files = names.filter { $0.hasSuffix(".so") }.sorted().map { "\(directory)/\($0)" }
        guard !files.isEmpty else {
            throw PluginError(path: directory, reason: "no plugins in \(directory): it has no *.so file; build the plugins into it or pass --plugin FILE")
        }
        return files
    }

    /// Checks and loads every file and every `*.so` of every directory. Stops at the first refusal.
    @discardableResult
    public func load(files: [String], directories: [String] = [], pins: PluginPins? = nil) throws -> [LoadedPlugin] {
        var loaded: [LoadedPlugin] = []
        var sources = files
        for directory in directories {
            sources += try Self.libraries(in: directory)
        }
        for path in sources {
            let plugin = try Self.open(path, pins: pins)
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

    /// Checks and opens one plugin file (no registration): the file checked is the file loaded (see
    /// `PluginFileCheck`).
    public static func open(_ path: String, pins: PluginPins? = nil) throws -> LoadedPlugin {
        let (descriptor, sha256) = try PluginFileCheck.check(path, pins: pins)
        return try PluginLoader.open(path, descriptor: descriptor, sha256: sha256, services: HostServices.table)
    }

    /// The refusal of `plugin` when a handler it provides is one of `providers` already: two plugins may not
    /// provide the same handler.
    public static func clash(of plugin: LoadedPlugin, with providers: [String: LoadedPlugin]) -> PluginError? {
        clash(path: plugin.path, handlers: plugin.handlers, with: providers.mapValues { ($0.name, $0.path) })
    }

    /// The refusal of the plugin at `path` providing `handlers` when one of them is already provided by another
    /// plugin (name and path, by handler).
    public static func clash(path: String, handlers: [String], with providers: [String: (name: String, path: String)]) -> PluginError? {
        guard let handler = handlers.first(where: { providers[$0] != nil }), let other = providers[handler] else { return nil }
        return PluginError(
            path: path, reason: "handler '\(handler)' is already provided by plugin \(other.name) (\(other.path)): load only one of them")
    }

    /// Sets what to do with the refusal of a plugin that calls `exit()` while it loads (print it, say); the
    /// process then ends with 78, never with the plugin's status.
    public static func onExitWhileLoading(_ handler: @escaping @Sendable (PluginError) -> Void) {
        PluginLoadGuard.onExitWhileLoading(handler)
    }

    /// The plugin stamps to record on claimed jobs, by handler.
    public var stamps: [String: PluginStamp] { plugins.mapValues(\.stamp) }

    /// Hands a claimed job to the plugin providing its handler. `onEnd`, when given, receives the outcome on the
    /// thread that reports it — possibly before this returns; then call `release()` instead of `outcome()`.
    public func start(_ job: Job, onEnd: (@Sendable (PluginOutcome) -> Void)? = nil) throws -> JobExecution {
        guard let plugin = plugins[job.handler] else {
            throw PluginError(path: job.handler, reason: "no loaded plugin provides handler '\(job.handler)'")
        }
        let session = JobSession(
            job: job, plugin: plugin.name, journal: journal, worker: worker, logger: logger, drain: drain, onEnd: onEnd)
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
