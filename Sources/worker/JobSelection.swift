import ArgumentParser
import WorkerStore

/// The flags that select jobs, shared by `jobs` (to list them) and `retry`/`cancel` (to change them in bulk).
struct JobSelection: ParsableArguments {
    @Option(help: "Only jobs in this state (\(JobState.allCases.map(\.rawValue).joined(separator: ", "))).")
    var state: JobState?

    @Option(help: "Only jobs of this handler.")
    var handler: String?

    @Option(help: "Only jobs of this queue.")
    var queue: String?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Only jobs created at or after this: an age (30m, 12h, 7d, 1h30m, or plain seconds) or an ISO 8601 time (2026-12-06T04:00:00Z).", valueName: "AGE|TIME"),
        transform: Since.parse)
    var since: Since?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Only jobs whose payload (its JSON text) or last error contains this text, case-sensitively; % and _ are plain characters.", valueName: "TEXT"))
    var search: String?

    func validate() throws {
        if search?.isEmpty == true { throw ValidationError("--search is empty, which matches every job: pass some text, or leave it out") }
    }

    /// Whether any selecting flag was given.
    var isEmpty: Bool { state == nil && handler == nil && queue == nil && since == nil && search == nil }

    /// The flags as given, for a journal event's reason: `--state dead --handler resize`.
    var description: String {
        var parts: [String] = []
        if let state { parts.append("--state \(state.rawValue)") }
        if let handler { parts.append("--handler \(handler)") }
        if let queue { parts.append("--queue \(queue)") }
        if let since { parts.append("--since \(since.text)") }
        if let search { parts.append("--search \(search)") }
        return parts.joined(separator: " ")
    }

    func filter(limit: Int = 100, newestFirst: Bool = false, after: Int64? = nil) -> JobFilter {
        JobFilter(
            state: state, handler: handler, queue: queue, createdSince: since?.micros, search: search, limit: limit,
            newestFirst: newestFirst, after: after)
    }
}

/// `--since`: an age before now, or a UTC time.
struct Since {
    /// The earliest creation time it admits.
    let micros: Micros
    /// As given.
    let text: String

    /// For `@Option(transform:)`: the error names both forms.
    static func parse(_ argument: String) throws -> Since {
        if let age = Age(argument: argument) {
            let (seconds, _) = age.duration.components
            return Since(micros: WallClock.system.now() - Micros(seconds) * 1_000_000, text: argument)
        }
        if let micros = ISO8601.micros(argument) { return Since(micros: micros, text: argument) }
        throw ValidationError("pass an age (30m, 12h, 7d, 1h30m, or plain seconds, at most 100 years) or an ISO 8601 time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z, e.g. 2026-12-06T04:00:00Z")
    }
}
