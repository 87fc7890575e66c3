import Foundation
import ArgumentParser
import WorkerStore

extension JobState: ExpressibleByArgument {}

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "List jobs, oldest first (newest first with --newest-first), a page at a time.",
        discussion: "A full page ends with a note on standard error naming the --after flag of the next page.")

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var selection: JobSelection

    @Option(parsing: .unconditional, help: "At most this many jobs (\(Ranges.limit.bounds)).", transform: Ranges.limit.argument)
    var limit: Int = 100

    @Flag(help: "Newest (highest id) first.")
    var newestFirst = false

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("The next page: jobs after this id in the listing's order (ids above it, or below it with --newest-first).", valueName: "ID"),
        transform: Ranges.cursor.argument)
    var after: Int64?

    @Flag(help: "Print a JSON array of job objects.")
    var json = false

    func run() async throws {
        let journal = try await database.open()
        let page = try await journal.jobPage(selection.filter(limit: limit, newestFirst: newestFirst, after: after))
        if json {
            Output.line(JSON.array(page.jobs.map(\.json)).text)
            return
        }
        let rows = page.jobs.map { job in
            [
                String(job.id), job.state.rawValue, job.handler, job.queue, String(job.priority),
                "\(job.attempts)/\(job.maxAttempts)", iso8601(job.runAt), iso8601(job.updatedAt),
            ]
        }
        for line in table(["ID", "STATE", "HANDLER", "QUEUE", "PRIORITY", "ATTEMPTS", "RUN_AT", "UPDATED_AT"], rows) {
            Output.line(line)
        }
        if let next = page.next { Output.note("more jobs: add --after \(next)") }
    }
}

struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "job", abstract: "Show one job with its journal history.")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The job id.", transform: Ranges.jobID.argument)
    var id: Int64

    @Flag(help: "Print the job object with an `events` array as JSON.")
    var json = false

    func run() async throws {
        let journal = try await database.open()
        let job = try await journal.job(id)
        let events = try await journal.events(job: id)
        let steps = try await journal.steps(job: id)
        if json {
            guard case .object(let members) = job.json else { return }
            Output.line(JSON.object(members + [("steps", .array(steps.map(\.json))), ("events", .array(events.map(\.json)))]).text)
            return
        }
        let fields: [(String, String)] = [
            ("id", String(job.id)), ("handler", job.handler), ("queue", job.queue), ("state", job.state.rawValue),
            ("priority", String(job.priority)), ("attempts", "\(job.attempts) of \(job.maxAttempts)"),
            ("crashes", String(job.crashes)), ("payload", job.payload), ("checkpoint", job.checkpointText),
            ("unique key", job.uniqueKey ?? "-"), ("run at", iso8601(job.runAt)), ("created", iso8601(job.createdAt)),
            ("updated", iso8601(job.updatedAt)), ("finished", job.finishedAt.map(iso8601) ?? "-"),
            ("worker", job.workerID ?? "-"), ("last error", job.lastError ?? "-"),
            ("plugin", job.plugin.map { "\($0.name) \($0.version) sha256:\($0.sha256)" } ?? "-"),
        ] + job.controlText
        for (name, value) in fields {
            Output.line("\(name.padding(toLength: 11, withPad: " ", startingAt: 0)) \(value)")
        }
        if job.cancelRequestedAt != nil { Output.line("cancel      requested at \(iso8601(job.cancelRequestedAt!))") }
        if !steps.isEmpty {
            Output.line("steps:")
            for step in steps {
                Output.line("  \(step.name): \(step.text)")
            }
        }
        Output.line("history:")
        let rows = events.map { event in
            [
                iso8601(event.at), "\(event.from?.rawValue ?? "-") -> \(event.to.rawValue)", "attempt \(event.attempt)",
                event.workerID.map { "worker \($0)" } ?? "operator", "pid \(event.pid)", event.reason,
            ]
        }
        for line in table(["  AT", "TRANSITION", "ATTEMPT", "BY", "PID", "REASON"], rows.map { ["  " + $0[0]] + $0.dropFirst() }) {
            Output.line(line)
        }
    }
}

struct StatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Count jobs per state.")

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Print an object of state -> count.")
    var json = false

    func run() async throws {
        let journal = try await database.open()
        let counts = try await journal.stats()
        if json {
            Output.line(JSON.object(JobState.allCases.map { ($0.rawValue, .int(Int64(counts[$0] ?? 0))) }).text)
            return
        }
        for line in table(["STATE", "JOBS"], JobState.allCases.map { [$0.rawValue, String(counts[$0] ?? 0)] }) {
            Output.line(line)
        }
        // Jobs wait here when no running worker has a plugin for their handler.
        let waiting = try await journal.waitingByHandler()
        if !waiting.isEmpty {
            Output.line("")
            for line in table(["WAITING FOR HANDLER", "JOBS"], waiting.map { [$0.handler, String($0.count)] }) {
                Output.line(line)
            }
        }
    }
}
