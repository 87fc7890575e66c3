import ArgumentParser
import Foundation
import WorkerStore

/// `worker queue pause|resume|list|set`: what operators control per queue (see docs/queues.md).
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Pause, resume and limit queues, across all workers and hosts.",
        subcommands: [QueueListCommand.self, QueuePauseCommand.self, QueueResumeCommand.self, QueueSetCommand.self])
}

struct QueuePauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Stop every worker from claiming the queue's jobs (running ones go on; enqueues are accepted) until it is resumed.")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The queue.")
    var queue: String

    @Flag(help: "Print the queue's settings as JSON.")
    var json = false

    func run() async throws {
        let journal = try await database.open()
        let settings = try await journal.pause(queue: queue)
        Output.line(json ? QueueJSON.json(settings).text : "queue \(queue) paused: no worker claims its jobs until `worker queue resume \(queue)`")
    }
}

struct QueueResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Let workers claim a paused queue's jobs again.")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The queue.")
    var queue: String

    @Flag(help: "Print the queue's settings as JSON.")
    var json = false

    func run() async throws {
        let journal = try await database.open()
        let settings = try await journal.resume(queue: queue)
        Output.line(json ? QueueJSON.json(settings).text : "queue \(queue) resumed")
    }
}

struct QueueSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set or clear a queue's limits and default timeout (none clears one); the others stay as they are.",
        discussion: "Limits hold across all workers and hosts, and are checked when a job is claimed: jobs held back stay queued. E.g. worker queue set mail --concurrency 2 --rate 20/1 --per-key-concurrency 1 --timeout 30")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The queue.")
    var queue: String

    @Option(help: ArgumentHelp("At most N of its jobs running at once (1 to 1000000), or none.", valueName: "N|none"), transform: QueueValues.count)
    var concurrency: Cleared<Int>?

    @Option(help: ArgumentHelp("At most N starts per SECONDS (a sliding window; e.g. 20/1, 100/60), or none.", valueName: "N/SECONDS|none"), transform: QueueValues.rate)
    var rate: Cleared<QueueRate>?

    @Option(help: ArgumentHelp("At most N running jobs per --concurrency-key (1 to 1000000), or none.", valueName: "N|none"), transform: QueueValues.count)
    var perKeyConcurrency: Cleared<Int>?

    @Option(help: ArgumentHelp("The default timeout of an attempt of its jobs, in seconds (up to 604800), or none.", valueName: "SECONDS|none"), transform: QueueValues.timeout)
    var timeout: Cleared<Duration>?

    @Flag(help: "Print the queue's settings as JSON.")
    var json = false

    func validate() throws {
        if concurrency == nil && rate == nil && perKeyConcurrency == nil && timeout == nil {
            throw ValidationError("nothing to set: pass --concurrency, --rate, --per-key-concurrency or --timeout (a value, or none to clear it)")
        }
    }

    func run() async throws {
        let journal = try await database.open()
        let change = QueueChange(
            concurrency: concurrency.map(\.value), rate: rate.map(\.value), perKeyConcurrency: perKeyConcurrency.map(\.value),
            timeout: timeout.map(\.value))
        let settings = try await journal.set(queue: queue, change)
        Output.line(json ? QueueJSON.json(settings).text : "queue \(queue): \(settings.limitsDescription)")
    }
}

struct QueueListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the queues with unfinished jobs or settings: paused or not, limits, jobs waiting and running.")

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Print the queues as a JSON array.")
    var json = false

    func run() async throws {
        let journal = try await database.open()
        let queues = try await journal.queues()
        if json {
            Output.line(JSON.array(queues.map(QueueJSON.json)).text)
            return
        }
        guard !queues.isEmpty else { return Output.line("no queues: nothing enqueued and nothing set") }
        var rows = [["queue", "state", "waiting", "running", "scheduled", "interrupted", "limits"]]
        for info in queues {
            rows.append([
                info.settings.name, info.settings.pausedAt == nil ? "active" : "paused", String(info.waiting), String(info.running),
                String(info.scheduled), String(info.interrupted), info.settings.limitsDescription,
            ])
        }
        for line in StatusCommand.align(rows, rightFrom: 2, rightTo: 6) { Output.line(line) }
    }
}

/// A flag's value that may be `none`: `value` nil clears the setting.
struct Cleared<Value: Sendable>: Sendable {
    var value: Value?
}

/// The values `worker queue set` takes.
enum QueueValues {
    static let limit = NumberRange<Int>(1...1_000_000, "jobs")
    static let seconds = NumberRange<Double>(0.001...86_400, "seconds")
    static let timeoutSeconds = NumberRange<Double>(0.001...604_800, "seconds")

    static func count(_ text: String) throws -> Cleared<Int> {
        text == "none" ? Cleared(value: nil) : Cleared(value: try limit.argument(text))
    }

    /// `N/SECONDS`: at most N starts in any window of SECONDS.
    static func rate(_ text: String) throws -> Cleared<QueueRate> {
        if text == "none" { return Cleared(value: nil) }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = limit.value(String(parts[0])), let window = seconds.value(String(parts[1])) else {
            throw ValidationError("pass N/SECONDS, N from \(limit.bounds) starts in a window of \(seconds.bounds) seconds (e.g. 20/1), or none")
        }
        return Cleared(value: QueueRate(limit: n, window: .milliseconds(Int64((window * 1000).rounded(.up)))))
    }

    static func timeout(_ text: String) throws -> Cleared<Duration> {
        if text == "none" { return Cleared(value: nil) }
        let value = try timeoutSeconds.argument(text)
        return Cleared(value: .milliseconds(Int64((value * 1000).rounded(.up))))
    }
}
