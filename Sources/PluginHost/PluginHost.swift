import Foundation
import Logging
import WorkerPluginABI

/// Finds, checks and loads plugins. Loading returns the `PluginSet` that runs jobs; the host keeps no state and
/// knows nothing of where jobs are recorded: it is handed each job and the `JobServices` of its records.
public enum PluginHost {
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

    /// Checks and loads every file and every `*.so` of every directory. Stops at the first refusal. `drain` is
    /// what the plugins see through `drain_state`; `logger` receives the plugins' logs and the host's.
    public static func load(
        files: [String], directories: [String] = [], pins: PluginPins? = nil, drain: DrainSignal = DrainSignal(), logger: Logger
    ) throws -> PluginSet {
        var plugins: [String: LoadedPlugin] = [:]
        var sources = files
        for directory in directories {
            sources += try libraries(in: directory)
        }
        for path in sources {
            let plugin = try open(path, pins: pins)
            if let clash = clash(of: plugin, with: plugins) { throw clash }
            for handler in plugin.handlers { plugins[handler] = plugin }
            logger.info("loaded plugin", metadata: [
                "plugin": "\(plugin.name)", "version": "\(plugin.version)", "sha256": "\(plugin.sha256)",
                "handlers": "\(plugin.handlers.joined(separator: ","))",
            ])
        }
        return PluginSet(plugins: plugins, drain: drain, logger: logger)
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
}
