import ArgumentParser
import EarlySignalTrap
import Foundation
import WorkerStore
import Logging
import PluginHost
import WorkerRuntime

@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "A durable background-job worker: a SQLite journal of every job, drained safely on SIGTERM.",
        version: WorkerVersion.current,
        subcommands: [
            EnqueueCommand.self, JobsCommand.self, JobCommand.self, StatsCommand.self, RetryCommand.self,
            CancelCommand.self, StatusCommand.self, PruneCommand.self, MigrateCommand.self, JournalCommand.self, PluginsCommand.self, RunCommand.self,
            ResumeCommand.self, ScheduleCommand.self, QueueCommand.self, DashboardCommand.self,
        ]
    )

    /// Parses, runs, and turns every error into one line on stderr and the contract's exit code.
    static func main() async {
        let status: ExitStatus
        do {
            // A crash must end the process (its supervisor restarts it; the next start recovers its jobs), even
            // when Swift's crash report hangs, as it now and then does.
            crash_watchdog_install(UInt32(try Ranges.crashReportTimeout.environment("WORKER_CRASH_REPORT_TIMEOUT") ?? 30))
            // Long-running commands trap their signals before anything else, so that a TERM sent while they
            // start is handled as a drain, not fatal. What came before `main` (recorded by EarlySignalTrap's handler,
            // installed from .preinit_array) is sent again once the handlers are in place.
            if isLongRunning {
                EarlySignals.trapped = await WorkerProcess.trapSignals()
                _ = early_signals_replay()
            }
            try UTF8Check.checkArguments()
            try UTF8Check.checkEnvironment()
            try bootstrapLogging()
            if let first = CommandLine.arguments.dropFirst().first, !first.hasPrefix("-"),
               !subcommandNames.contains(first), first != "help" {
                throw CLIError(.usage, "unknown command '\(first)': use one of \(subcommandNames.joined(separator: ", ")) (see 'worker --help')")
            }
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            status = .success
        } catch let error as JournalError {
            status = report(error.description, ExitStatus(error))
        } catch let error as CLIError {
            status = report(error.message, error.status)
        } catch let error as PluginError {
            status = report(error.description, error.status)
        } catch let error as WorkerError {
            status = report(error.message, ExitStatus(error))
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                status = .success
            } else {
                let message = oneLine(self.message(for: error))
                status = report("\(message) (see '\(helpCommand()) --help')", ExitStatus(rawValue: code.rawValue) ?? .usage)
            }
        }
        Output.flush()
        Foundation.exit(status.rawValue)
    }

    /// Logs go to standard error at $WORKER_LOG_LEVEL (trace, debug, info, notice, warning, error, critical;
    /// default warning), so that data on standard output stays clean.
    /// `worker run` and `worker resume` log at info by default (one line per transition); other commands at warning.
    /// `--log-format json` (or WORKER_LOG_FORMAT=json) writes JSON lines.
    private static func bootstrapLogging() throws {
        let arguments = CommandLine.arguments.dropFirst()
        let env = ProcessInfo.processInfo.environment["WORKER_LOG_LEVEL"] ?? ""
        guard let level = env.isEmpty ? (isLongRunning ? .info : .warning) : Logger.Level(rawValue: env.lowercased()) else {
            throw CLIError(.config, "WORKER_LOG_LEVEL is '\(env)': set it to trace, debug, info, notice, warning, error or critical")
        }
        let format: LogFormat
        if let index = arguments.firstIndex(of: "--log-format"), arguments.index(after: index) < arguments.endIndex {
            let name = arguments[arguments.index(after: index)]
            guard let chosen = LogFormat(rawValue: name) else { throw CLIError(.usage, "--log-format is '\(name)': use text or json") }
            format = chosen
        } else {
            let name = ProcessInfo.processInfo.environment["WORKER_LOG_FORMAT"].flatMap { $0.isEmpty ? nil : $0 } ?? "text"
            guard let chosen = LogFormat(rawValue: name) else {
                throw CLIError(.config, "WORKER_LOG_FORMAT is '\(name)': set it to text or json")
            }
            format = chosen
        }
        LoggingSystem.bootstrap { label in
            switch format {
            case .json:
                return JSONLogHandler(label: label, logLevel: level)
            case .text:
                return TextLogHandler(label: label, logLevel: level)
            }
        }
    }

    /// Whether the command is `run` or `resume` (the first argument that is not an option, as EarlySignalTrap
    /// decides it too).
    private static var isLongRunning: Bool {
        ["run", "resume", "dashboard"].contains(CommandLine.arguments.dropFirst().first(where: { !$0.hasPrefix("-") }) ?? "")
    }

    /// `worker SUBCOMMAND` when the arguments name one, for the hint after a usage error.
    private static func helpCommand() -> String {
        if let first = CommandLine.arguments.dropFirst().first(where: { !$0.hasPrefix("-") }), subcommandNames.contains(first) {
            return "worker \(first)"
        }
        return "worker"
    }

    private static var subcommandNames: [String] {
        configuration.subcommands.compactMap { $0.configuration.commandName }
    }

    /// ArgumentParser's message as one line: its first line, with a list of valid values (lines of `  - value`,
    /// as for `--state`) joined after it.
    private static func oneLine(_ message: String) -> String {
        let lines = message.split(whereSeparator: \.isNewline)
        guard let first = lines.first else { return "invalid arguments" }
        let values = lines.dropFirst().filter { $0.hasPrefix("  - ") }.map { $0.dropFirst(4) }
        guard !values.isEmpty else { return String(first) }
        return "\(first) \(values.joined(separator: ", "))."
    }

    private static func report(_ message: String, _ status: ExitStatus) -> ExitStatus {
        Output.flush()
        FileHandle.standardError.write(Data("worker: error: \(ControlEscaping.escape(message))\n".utf8))
        return status
    }
}

enum WorkerVersion {
    static let current = "0.1.0"
}

/// Signals trapped at the start of `main` for `run` and `resume`.
enum EarlySignals {
    nonisolated(unsafe) static var trapped: TrappedSignals?  // written once in main before any command runs

    static func take() async -> TrappedSignals {
        if let trapped { return trapped }
        return await WorkerProcess.trapSignals()
    }
}
