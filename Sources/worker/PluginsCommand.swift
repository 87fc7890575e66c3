import WorkerStore
import ArgumentParser
import Foundation
import PluginHost
import WorkerApp

struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "Work with plugins.", subcommands: [PluginsCheckCommand.self, PluginsPreflightCommand.self])
}

struct PluginsCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check and load plugin files without running any job: prints each plugin's name, version, SHA-256 and handlers; exit 78 when one is rejected, 66 when one is missing.",
        discussion: "Each file is loaded in a child process of its own: a plugin that crashes or ends the process while it loads is reported like any other refusal.")

    @Argument(help: "Plugin files (.so).")
    var files: [String]

    @Option(help: "A pins file (sha256sum format): every plugin must be listed with its SHA-256.")
    var pins: String?

    @Flag(help: "Print a JSON array of plugin objects.")
    var json = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one plugin file") }
    }

    func run() async throws {
        do {
            _ = try pins.map(PluginPins.init(file:))  // a bad pins file is one error, not one per plugin
        } catch let error as PluginError {
            throw CLIError(.config, error.description)
        }
        var accepted: [PluginPreflight.Report] = []
        var rejected: [PluginError] = []
        var providers: [String: (name: String, path: String)] = [:]
        for file in files {
            do {
                let plugin = try await PluginPreflight.load(file, pins: pins)
                if let clash = PluginHost.clash(path: plugin.path, handlers: plugin.handlers, with: providers) { throw clash }
                for handler in plugin.handlers { providers[handler] = (plugin.name, plugin.path) }
                accepted.append(plugin)
            } catch let error as PluginError {
                rejected.append(error)
            }
        }
        if json {
            Output.line(JSON.array(accepted.map { plugin in
                .object([
                    ("path", .string(plugin.path)), ("name", .string(plugin.name)), ("version", .string(plugin.version)),
                    ("sha256", .string(plugin.sha256)), ("toolchain", .string(plugin.toolchain)),
                    ("handlers", .array(plugin.handlers.map(JSON.string))),
                ])
            } + rejected.map { .object([("path", .string($0.path)), ("rejected", .string($0.reason))]) }).text)
        } else {
            for plugin in accepted {
                Output.line("\(plugin.path): \(plugin.name) \(plugin.version) sha256:\(plugin.sha256) handlers: \(plugin.handlers.joined(separator: ", "))")
            }
        }
        guard rejected.isEmpty else {
            Output.flush()
            for error in rejected.dropLast() {
                FileHandle.standardError.write(Data("worker: error: \(ControlEscaping.escape(error.description))\n".utf8))
            }
            // Missing files alone are missing input (66); any refusal makes it a configuration error (78).
            let status: ExitStatus = rejected.allSatisfy { $0.kind == .missing } ? .noInput : .config
            throw CLIError(status, rejected.last!.description)
        }
    }
}

/// Loads one plugin file in this process and prints the result as the last line: the child `PluginPreflight`
/// starts. Not for people: `worker plugins check` is.
struct PluginsPreflightCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preflight", abstract: "Load one plugin file in this process (the child of a check).", shouldDisplay: false)

    @Argument(help: "The plugin file.")
    var file: String

    @Option(help: "A pins file (sha256sum format).")
    var pins: String?

    func run() throws {
        PreflightChild.run(file, pins: pins)
    }
}
