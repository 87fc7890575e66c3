import ArgumentParser
import Foundation
import Journal
import WorkerStore
import Logging

extension JournalOptions.Synchronous: ExpressibleByArgument {}

/// The options every command takes to find and open the journal.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "The database file. Default: $WORKER_DB, else ./worker.sqlite3.")
    var db: String?

    @Option(help: ArgumentHelp(
        "Commit durability: full (fsync every commit, the default) or normal (faster; a power loss may roll back the last commits). Default: $WORKER_SYNCHRONOUS, else full.",
        valueName: "full|normal"))
    var synchronous: JournalOptions.Synchronous?

    @Option(parsing: .unconditional, help: "Seconds to wait for another process's lock before failing with exit 75 (\(Ranges.busyTimeout.bounds)). Default: $WORKER_BUSY_TIMEOUT, else 5.", transform: Ranges.busyTimeout.argument)
    var busyTimeout: Double?

    /// The database path after the flag and the environment.
    var path: String {
        db ?? ProcessInfo.processInfo.environment["WORKER_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? "./worker.sqlite3"
    }

    /// Opens the journal with these options, then `adjust`.
    func open(_ adjust: (inout JournalOptions) -> Void = { _ in }) throws -> any JobStore {
        var options = JournalOptions()
        let env = ProcessInfo.processInfo.environment
        if let synchronous {
            options.synchronous = synchronous
        } else if let value = env["WORKER_SYNCHRONOUS"], !value.isEmpty {
            guard let parsed = JournalOptions.Synchronous(rawValue: value.lowercased()) else {
                throw CLIError(.config, "WORKER_SYNCHRONOUS is '\(value)': set it to full or normal")
            }
            options.synchronous = parsed
        }
        if let seconds = try busyTimeout ?? Ranges.busyTimeout.environment("WORKER_BUSY_TIMEOUT") {
            options.busyTimeoutSeconds = seconds
        }
        options.logger = Logger(label: "worker.journal")
        adjust(&options)
        return try Journal(path: path, options: options)
    }
}
