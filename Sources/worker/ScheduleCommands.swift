import ArgumentParser
import Schedules
import WorkerStore

extension MissedTicks: ExpressibleByArgument {}

extension Ranges {
    static let catchUpWindow = NumberRange<Int>(0...31_622_400, "seconds")
}

/// `worker schedule ...`: durable schedules, fired by every `worker run` (docs/schedules.md).
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Durable schedules: a job at each tick of a cron expression, exactly one per tick across all workers.",
        subcommands: [
            ScheduleAddCommand.self, ScheduleListCommand.self, ScheduleShowCommand.self, SchedulePauseCommand.self,
            ScheduleResumeCommand.self, ScheduleRunCommand.self, ScheduleRemoveCommand.self,
        ])
}

/// The journal and the schedule a command acts on.
struct ScheduleTarget: ParsableArguments {
    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The schedule's name.")
    var name: String
}

struct ScheduleAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a schedule (or change one with --replace).",
        discussion: "EXPR has five fields (minute hour day-of-month month day-of-week), or six with seconds first, or is @yearly, @monthly, @weekly, @daily or @hourly.")

    @OptionGroup var target: ScheduleTarget

    @Argument(help: "The handler of the jobs it enqueues (e.g. noop).")
    var handler: String

    @Option(help: ArgumentHelp("The cron expression, e.g. '*/5 * * * *' or '* * * * * *' (every second).", valueName: "EXPR"))
    var cron: String

    @Option(help: "The payload of every job: JSON. Default: {}.")
    var payload: String = "{}"

    @Option(help: "The queue.")
    var queue: String = "default"

    @Option(parsing: .unconditional, help: "Higher runs first: \(Ranges.priority.bounds).", transform: Ranges.priority.argument)
    var priority: Int = 0

    @Option(help: "The IANA time zone the expression's times are in (e.g. Europe/Paris).")
    var timezone: String = "UTC"

    @Option(help: "Ticks missed while no worker ran: skip (none), latest (one job for the most recent) or all (one per tick within the catch-up window, at most 1000).")
    var missed: MissedTicks = .default

    @Option(parsing: .unconditional, help: "With --missed all: how far back missed ticks still get a job, in seconds (\(Ranges.catchUpWindow.bounds)). Default 3600.", transform: Ranges.catchUpWindow.argument)
    var catchUpWindow: Int = 3600

    @Flag(help: "Skip a tick while the schedule's previous job is unfinished (recorded as skipped).")
    var noOverlap = false

    @Flag(help: "Change the schedule when it exists (its history and last tick stay).")
    var replace = false

    @Flag(help: "Print the schedule as JSON.")
    var json = false

    func run() async throws {
        let definition = ScheduleDefinition(
            name: target.name, handler: handler, cron: cron, timeZone: timezone, payload: payload, queue: queue, priority: priority,
            missed: missed, catchUpWindow: .seconds(catchUpWindow), noOverlap: noOverlap)
        try ScheduleRules.check(definition, maxPayloadBytes: Int.max)  // before the journal is opened (or created)
        let journal = try await target.database.open()
        let schedule = try await journal.addSchedule(definition, replace: replace)
        Output.line(json ? ScheduleJSON.json(schedule).text
                         : "schedule \(schedule.name) \(replace ? "saved" : "added"): next tick \(schedule.nextTick.map(iso8601) ?? "never")")
    }
}

struct ScheduleListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the schedules.")

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Print a JSON array of schedules.")
    var json = false

    func run() async throws {
        let schedules = try await database.open().schedules()
        if json { return Output.line(JSON.array(schedules.map(ScheduleJSON.json)).text) }
        if schedules.isEmpty { return Output.line("no schedules (add one with `worker schedule add`)") }
        for schedule in schedules { Output.line(SchedulePresentation.line(schedule)) }
    }
}

struct ScheduleShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a schedule: next and last fire, recent fires, skips and misses, totals.")

    @OptionGroup var target: ScheduleTarget

    @Flag(help: "Print the schedule with its recent events and totals as JSON.")
    var json = false

    func run() async throws {
        let detail = try await target.database.open().schedule(named: target.name)
        if json { return Output.line(ScheduleJSON.json(detail).text) }
        for line in SchedulePresentation.lines(detail) { Output.line(line) }
    }
}

struct SchedulePauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Stop a schedule firing until resumed (its ticks meanwhile get nothing).")

    @OptionGroup var target: ScheduleTarget

    func run() async throws {
        let schedule = try await target.database.open().pauseSchedule(target.name)
        Output.line("schedule \(schedule.name) paused")
    }
}

struct ScheduleResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Let a paused schedule fire again, from its next tick.")

    @OptionGroup var target: ScheduleTarget

    func run() async throws {
        let schedule = try await target.database.open().resumeSchedule(target.name)
        Output.line("schedule \(schedule.name) active: next tick \(schedule.nextTick.map(iso8601) ?? "never")")
    }
}

struct ScheduleRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Enqueue one job of a schedule now (recorded as a manual run).")

    @OptionGroup var target: ScheduleTarget

    @Flag(help: "Print the job object as JSON.")
    var json = false

    func run() async throws {
        let job = try await target.database.open().runSchedule(target.name)
        Output.line(json ? job.json.text : "job \(job.id) enqueued for schedule \(target.name)")
    }
}

struct ScheduleRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove a schedule (its jobs and its record stay).")

    @OptionGroup var target: ScheduleTarget

    func run() async throws {
        try await target.database.open().removeSchedule(target.name)
        Output.line("schedule \(target.name) removed")
    }
}
