import ArgumentParser
import Foundation
import Journal
import Logging
import PostgresJournal
import WorkerStore

extension JournalOptions.Synchronous: ExpressibleByArgument {}

/// The options every command takes to find and open the journal: a SQLite file (the embedded default) or a
/// PostgreSQL database named by a `postgres://` URL.
struct DatabaseOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The journal: a SQLite file, or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-full] (password also from $PGPASSWORD). Default: $WORKER_DB, else ./worker.sqlite3.",
        valueName: "PATH|URL"))
    var db: String?

    @Option(help: ArgumentHelp(
        "Commit durability: full (fsync every commit, the default) or normal (faster; a power loss may roll back the last commits; on PostgreSQL, synchronous_commit=off). Default: $WORKER_SYNCHRONOUS, else full.",
        valueName: "full|normal"))
    var synchronous: JournalOptions.Synchronous?

    @Option(parsing: .unconditional, help: "Seconds to wait for another process's lock before failing with exit 75 (\(Ranges.busyTimeout.bounds)); on PostgreSQL, the session's lock_timeout. Default: $WORKER_BUSY_TIMEOUT, else 5.", transform: Ranges.busyTimeout.argument)
    var busyTimeout: Double?

    /// The database path or URL after the flag and the environment.
    var path: String {
        db ?? ProcessInfo.processInfo.environment["WORKER_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? "./worker.sqlite3"
    }

    /// A second store object on the same journal for the admin endpoint, when that keeps its reads off the worker's
    /// path: on SQLite a connection of its own (reads in WAL mode never wait for the worker's writes, and the
    /// worker's claims never queue behind a dashboard read); nil on PostgreSQL, whose pool already serves each
    /// caller on its own connection and whose claims have a pool of their own.
    func openSeparateReader() async throws -> (any JobStore)? {
        PostgresLocation.isPostgresURL(path) ? nil : try await open()
    }

    /// Opens the journal these options name, creating and migrating it when needed. `maxPayloadBytes` overrides
    /// the store's limit.
    func open(maxPayloadBytes: Int? = nil) async throws -> any JobStore {
        let env = ProcessInfo.processInfo.environment
        var durability = JournalOptions.Synchronous.full
        if let synchronous {
            durability = synchronous
        } else if let value = env["WORKER_SYNCHRONOUS"], !value.isEmpty {
            guard let parsed = JournalOptions.Synchronous(rawValue: value.lowercased()) else {
                throw CLIError(.config, "WORKER_SYNCHRONOUS is '\(value)': set it to full or normal")
            }
            durability = parsed
        }
        let patience = try busyTimeout ?? Ranges.busyTimeout.environment("WORKER_BUSY_TIMEOUT")
        if PostgresLocation.isPostgresURL(path) {
            var options = PostgresJournalOptions()
            if let maxPayloadBytes { options.maxPayloadBytes = maxPayloadBytes }
            if durability == .normal { options.sessionParameters.append(("synchronous_commit", "off")) }
            // The busy timeout's default (SQLite's, 5 s) holds here too; 0 means "do not wait", which lock_timeout spells 1 ms
            // (its 0 would wait forever).
            let milliseconds = max(1, Int(((patience ?? JournalOptions().busyTimeoutSeconds) * 1000).rounded()))
            options.sessionParameters.append(("lock_timeout", "\(milliseconds)"))
            options.logger = Logger(label: "worker.journal")
            return try await PostgresJournal.open(try PostgresLocation(url: path), options: options)
        }
        var options = JournalOptions()
        options.synchronous = durability
        if let patience { options.busyTimeoutSeconds = patience }
        if let maxPayloadBytes { options.maxPayloadBytes = maxPayloadBytes }
        options.logger = Logger(label: "worker.journal")
        return try Journal(path: path, options: options)
    }
}
