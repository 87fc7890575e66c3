import ArgumentParser
import Foundation
import PluginHost

struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins", abstract: "Work with plugins.", subcommands: [PluginsCheckCommand.self])
}

struct PluginsCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check and load plugin files without running any job: prints each plugin's name, version, SHA-256 and handlers; exit 78 when one is rejected.")

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
        let pinned: PluginPins?
        do {
            pinned = try pins.map(PluginPins.init(file:))
        } catch let error as PluginError {
            throw CLIError(.config, error.description)
        }
        var accepted: [LoadedPlugin] = []
        var rejected: [PluginError] = []
        var providers: [String: LoadedPlugin] = [:]
        for file in files {
            do {
                let plugin = try PluginHost.open(file, pins: pinned)
                if let clash = PluginHost.clash(of: plugin, with: providers) { throw clash }
                for handler in plugin.handlers { providers[handler] = plugin }
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
            throw CLIError(.config, rejected.last!.description)
        }
    }
}
