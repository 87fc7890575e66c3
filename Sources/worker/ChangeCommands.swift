import ArgumentParser
import WorkerStore

struct RetryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retry",
        abstract: "Queue a dead, cancelled or retrying job to run now (dead and cancelled jobs get fresh attempts).",
        discussion: "With a filter instead of an id: prints how many jobs match and changes nothing unless --yes is given (--dry-run lists them); jobs in other states are skipped.")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The job id (or give a filter).", transform: Ranges.jobID.argument)
    var id: Int64?

    @OptionGroup var bulk: BulkChangeOptions

    @Flag(help: "Print the job object (with a filter: the counts) as JSON.")
    var json = false

    func validate() throws { try bulk.check(id: id, .retry) }

    func run() async throws {
        let journal = try await database.open()
        guard let id else { return try await bulk.run(.retry, journal: journal, json: json) }
        let job = try await journal.retry(job: id)
        Output.line(json ? job.json.text : "job \(job.id) queued")
    }
}

struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a job that has not finished; a running job is stopped by its worker.",
        discussion: "With a filter instead of an id: prints how many jobs match and changes nothing unless --yes is given (--dry-run lists them); finished jobs are skipped.")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The job id (or give a filter).", transform: Ranges.jobID.argument)
    var id: Int64?

    @OptionGroup var bulk: BulkChangeOptions

    @Flag(help: "Print the job object (with a filter: the counts) as JSON.")
    var json = false

    func validate() throws { try bulk.check(id: id, .cancel) }

    func run() async throws {
        let journal = try await database.open()
        guard let id else { return try await bulk.run(.cancel, journal: journal, json: json) }
        let result = try await journal.cancel(job: id)
        switch result {
        case .cancelled(let job):
            Output.line(json ? job.json.text : "job \(job.id) cancelled")
        case .alreadyCancelled(let job):
            Output.line(json ? job.json.text : "job \(job.id) was already cancelled")
        case .requested(let job):
            Output.line(json ? job.json.text : "job \(job.id) is running under \(job.workerID ?? "a worker"): cancellation requested, its worker will stop it")
        }
    }
}

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Create or upgrade the database schema (every command does this too).")

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Print the applied migrations as a JSON array.")
    var json = false

    func run() async throws {
        let journal = try await database.open()
        let applied = try await journal.appliedMigrations()
        if json {
            Output.line(JSON.array(applied.map(JSON.string)).text)
        } else {
            Output.line("\(journal.location): schema up to date (\(applied.joined(separator: ", ")))")
        }
    }
}

struct JournalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Inspect the journal itself.", subcommands: [VerifyCommand.self])
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the database's integrity and the journal's consistency; exit 65 with findings.")

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        let report = try await database.open().verify()
        if json {
            Output.line(JSON.object([
                ("ok", .bool(report.isSound)),
                ("jobs", .int(Int64(report.jobsChecked))),
                ("events", .int(Int64(report.eventsChecked))),
                ("integrity_errors", .array(report.integrityErrors.map(JSON.string))),
                ("findings", .array(report.findings.map(JSON.string))),
            ]).text)
        } else {
            for error in report.integrityErrors { Output.line("integrity: \(error)") }
            for finding in report.findings { Output.line("finding: \(finding)") }
            Output.line(report.isSound
                ? "journal ok: \(report.jobsChecked) jobs, \(report.eventsChecked) events"
                : "journal has \(report.integrityErrors.count + report.findings.count) problem(s)")
        }
        if !report.isSound {
            throw CLIError(
                report.integrityErrors.isEmpty ? .dataError : .ioError,
                "journal verify found \(report.integrityErrors.count) integrity error(s) and \(report.findings.count) inconsistency(ies); see above")
        }
    }
}
