import WorkerStore
import Foundation
import PluginHost
import WorkerApp

#if canImport(Glibc)
import Glibc
#endif

/// The child side of `PluginPreflight` (`worker plugins preflight FILE`, hidden): loads one plugin in this
/// process and prints the result line last.
enum PreflightChild {
    /// The child's side: loads `file` in this process and prints the result line last, then ends at once (no
    /// exit handlers, no library destructors: what they do is not the check's business).
    static func run(_ file: String, pins: String?) -> Never {
        PluginHost.onExitWhileLoading { error in
            emit(rejection(error))  // exit() called by the plugin while loading: a refusal, reported like any other
            _exit(0)
        }
        let result: JSON
        do {
            let plugin = try PluginHost.open(file, pins: try pins.map(PluginPins.init(file:)))
            result = .object([
                ("path", .string(plugin.path)), ("name", .string(plugin.name)), ("version", .string(plugin.version)),
                ("sha256", .string(plugin.sha256)), ("toolchain", .string(plugin.toolchain)),
                ("handlers", .array(plugin.handlers.map(JSON.string))),
            ])
        } catch let error as PluginError {
            result = rejection(error)
        } catch {
            result = rejection(PluginError(path: file, reason: "\(error)"))
        }
        emit(result)
        _exit(0)
    }

    private static func rejection(_ error: PluginError) -> JSON {
        .object([("path", .string(error.path)), ("rejected", .string(error.reason)), ("missing", .bool(error.kind == .missing))])
    }

    private static func emit(_ result: JSON) {
        let line = "\n\(PluginPreflight.marker)\(result.text)\n"  // on a line of its own, whatever the plugin printed before
        _ = line.withCString { write(STDOUT_FILENO, $0, strlen($0)) }
    }
}

extension PluginError {
    /// The exit status for this refusal: 66 for a file that is not there, 78 otherwise.
    var status: ExitStatus { kind == .missing ? .noInput : .config }
}
