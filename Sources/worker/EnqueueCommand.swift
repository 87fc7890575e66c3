import ArgumentParser
import Foundation
import Journal

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue a job (or one job per JSON line with --payloads-from) and print its id.")

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The handler that runs the job, as a plugin names it (e.g. noop, sleep).")
    var handler: String

    @Option(help: "The job's payload: JSON. Default: {}.")
    var payload: String?

    @Option(help: ArgumentHelp(
        "Enqueue one job per line of FILE (- for standard input), each line a JSON payload; blank lines are skipped. Each batch is one transaction: all of it or nothing.",
        valueName: "FILE|-"))
    var payloadsFrom: String?

    @Option(help: "Jobs per transaction with --payloads-from.")
    var batchSize: Int = 10_000

    @Option(help: "The queue.")
    var queue: String = "default"

    @Option(help: "Higher runs first.")
    var priority: Int = 0

    @Option(help: "Start no earlier than this many seconds from now (the job is scheduled).")
    var delay: Double?

    @Option(help: "Start no earlier than this time, ISO 8601 (e.g. 2026-11-22T10:00:00Z).")
    var at: String?

    @Option(help: "Attempts before the job ends dead. Default 25.")
    var maxAttempts: Int?

    @Option(name: .customLong("key"), help: "Unique key: while an unfinished job has it, return that job and enqueue nothing.")
    var uniqueKey: String?

    @Option(help: "The largest payload accepted, in bytes. Default: $WORKER_MAX_PAYLOAD_BYTES, else 1048576 (1 MiB).")
    var maxPayloadBytes: Int?

    @Flag(help: "Print the job object (with --payloads-from: a summary object) as JSON.")
    var json = false

    func validate() throws {
        if payload != nil && payloadsFrom != nil {
            throw ValidationError("--payload and --payloads-from exclude each other: pass one")
        }
        if delay != nil && at != nil {
            throw ValidationError("--delay and --at exclude each other: pass one")
        }
        if let delay, !(delay >= 0 && delay.isFinite) {
            throw ValidationError("--delay is \(delay): pass 0 or more seconds")
        }
        if uniqueKey != nil && payloadsFrom != nil {
            throw ValidationError("--key cannot be used with --payloads-from: one key would name every job")
        }
        if batchSize < 1 {
            throw ValidationError("--batch-size is \(batchSize): pass 1 or more")
        }
        if let maxPayloadBytes, maxPayloadBytes < 1 {
            throw ValidationError("--max-payload-bytes is \(maxPayloadBytes): pass 1 or more")
        }
    }

    func run() async throws {
        let runAt = try startTime()
        let limit = try payloadLimit()
        let journal = try database.open { options in
            if let limit { options.maxPayloadBytes = limit }
        }
        let template = NewJob(
            handler: handler, payload: payload ?? "{}", queue: queue, priority: priority, runAt: runAt,
            maxAttempts: maxAttempts, uniqueKey: uniqueKey)
        if let source = payloadsFrom {
            try await BulkEnqueue(journal: journal, template: template, batchSize: batchSize, json: json).run(source: source)
            return
        }
        let (job, created) = try await journal.enqueue(template)
        if json {
            guard case .object(let members) = job.json else { return }
            Output.line(JSON.object(members + [("created", .bool(created))]).text)
        } else {
            Output.line(String(job.id))
        }
    }

    private func startTime() throws -> Micros? {
        if let delay {
            return WallClock.system.now() + Micros((delay * 1_000_000).rounded())
        }
        guard let at else { return nil }
        guard let date = ISO8601.parse(at) else {
            throw CLIError(.usage, "--at '\(at)' is not an ISO 8601 time: use e.g. 2026-11-22T10:00:00Z")
        }
        return date.micros
    }

    private func payloadLimit() throws -> Int? {
        if let maxPayloadBytes { return maxPayloadBytes }
        guard let value = ProcessInfo.processInfo.environment["WORKER_MAX_PAYLOAD_BYTES"], !value.isEmpty else { return nil }
        guard let bytes = Int(value), bytes >= 1 else {
            throw CLIError(.config, "WORKER_MAX_PAYLOAD_BYTES is '\(value)': set it to a number of bytes")
        }
        return bytes
    }
}

enum ISO8601 {
    /// Parses an ISO 8601 date-time with a zone, with or without fractional seconds.
    static func parse(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withFraction.date(from: text) { return date }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        return plain.date(from: text)
    }
}
