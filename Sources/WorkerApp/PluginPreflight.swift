import SystemPackage
import Foundation
import PluginHost
import Subprocess
import WorkerRuntime

#if canImport(Glibc)
import Glibc
#endif

/// Loading a plugin runs its code (its initialisers, then its `create`): one that crashes or ends the process
/// there would take the worker down before it could say which plugin it was, and a supervisor would restart it
/// into the same end. So every plugin is first loaded in a child process (`worker plugins preflight FILE`, hidden),
/// by `worker plugins check` (which reports only what the children found) and by `run` and `resume` (before they
/// register or touch a job).
///
/// The child's ending is not trusted: only a result line it prints last, after the plugin loaded and was
/// checked, followed by exit status 0, is success. Any other end (the plugin called `exit` or `_exit`, crashed,
/// was killed) is a refusal naming the plugin and how the child ended. Costs one short process per plugin.
public enum PluginPreflight {
    /// What a child reports about a plugin it loaded.
    public struct Report: Sendable {
        public let path: String
        public let name: String
        public let version: String
        public let sha256: String
        public let toolchain: String
        public let handlers: [String]
    }

    /// The prefix of the child's result line.
    public static let marker = "worker-plugin-preflight: "
    /// The most output a child may write (the plugin's own noise included) before it is refused.
    static let outputLimit = 4 << 20

    /// Loads each file in a child of its own; the first refusal is thrown.
    public static func check(_ files: [String], pins: String?) async throws {
        for file in files { _ = try await load(file, pins: pins) }
    }

    /// Loads `file` in a child process and returns what it found, or throws its `PluginError`.
    public static func load(_ file: String, pins: String?) async throws -> Report {
        func refuse(_ reason: String) -> PluginError { PluginError(path: file, reason: reason) }
        let result: ExecutionResult<Void, BytesOutput, DiscardedOutput>
        do {
            result = try await Subprocess.run(
                .path("/proc/self/exe"),
                arguments: Arguments(["plugins", "preflight", file] + (pins.map { ["--pins", $0] } ?? [])),
                environment: .inherit.updating(["NOTIFY_SOCKET": nil]),  // the child must not speak to systemd for the worker
                output: .bytes(limit: outputLimit))
        } catch let error as SubprocessError where error.code == .outputLimitExceeded {
            throw refuse("it wrote more than \(outputLimit >> 20) MiB to standard output while loading: make it quiet")
        } catch {
            throw WorkerError(.internalError, "cannot start a process to check plugin \(file): \(error)")
        }
        let lines = String(decoding: result.standardOutput, as: UTF8.self).split(separator: "\n")
        switch result.terminationStatus {
        case .exited(0):
            if let last = lines.last, last.hasPrefix(marker) {
                return try parse(String(last.dropFirst(marker.count)), file: file)
            }
            throw refuse("it ended the process with status 0 before it finished loading (in its initialisers or create(), e.g. by calling _exit): fix it or leave it out")
        case .exited(let code):
            throw refuse("it ended the process with status \(code) while loading (in its initialisers or create()): fix it or leave it out")
        case .signaled(let signal):
            throw refuse("it crashed while loading (signal \(signal), \(String(cString: strsignal(signal))), in its initialisers or create()): fix it or leave it out")
        }
    }

    /// Reads the child's result line.
    private static func parse(_ text: String, file: String) throws -> Report {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw PluginError(path: file, reason: "its check printed an unreadable result: \(text.prefix(200))")
        }
        if let reason = object["rejected"] as? String {
            throw PluginError(path: file, reason: reason, kind: object["missing"] as? Bool == true ? .missing : .refused)
        }
        guard let name = object["name"] as? String, let version = object["version"] as? String,
              let sha256 = object["sha256"] as? String, let toolchain = object["toolchain"] as? String,
              let handlers = object["handlers"] as? [String] else {
            throw PluginError(path: file, reason: "its check printed an incomplete result: \(text.prefix(200))")
        }
        return Report(path: file, name: name, version: version, sha256: sha256, toolchain: toolchain, handlers: handlers)
    }
}
