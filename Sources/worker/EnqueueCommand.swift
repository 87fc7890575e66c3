import Journal
import ArgumentParser
import Foundation
import WorkerStore

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

    @Option(parsing: .unconditional, help: "Jobs per transaction with --payloads-from (\(Ranges.batchSize.bounds)).", transform: Ranges.batchSize.argument)
    var batchSize: Int = 10_000

    @Option(help: "The queue.")
    var queue: String = "default"

    @Option(parsing: .unconditional, help: "Higher runs first: \(Ranges.priority.bounds) (e.g. --priority -5).", transform: Ranges.priority.argument)
    var priority: Int = 0

    @Option(parsing: .unconditional, help: "Start no earlier than this many seconds from now (the job is scheduled): \(Ranges.delay.bounds) (100 years).", transform: Ranges.delay.argument)
    var delay: Double?

    @Option(help: "Start no earlier than this time, ISO 8601 (e.g. 2026-11-22T10:00:00Z).")
    var at: String?

    @Option(parsing: .unconditional, help: "Attempts before the job ends dead: \(Ranges.maxAttempts.bounds). Default 25.", transform: Ranges.maxAttempts.argument)
    var maxAttempts: Int?

    @Option(parsing: .unconditional, help: "Cancel an attempt still running after this many seconds (\(Ranges.jobTimeout.bounds)); it then fails 'timed out' and retries with backoff. Default: the queue's timeout (worker queue set Q --timeout), else none.", transform: Ranges.jobTimeout.argument)
    var timeout: Double?

    @Option(name: .customLong("key"), help: "Unique key: while an unfinished job has it, return that job and enqueue nothing.")
    var uniqueKey: String?

    @Option(help: "Jobs of one queue with the same key share the queue's per-key concurrency limit (`worker queue set Q --per-key-concurrency N`); with --payloads-from, every job gets it.")
    var concurrencyKey: String?

    @Option(parsing: .unconditional, help: "The largest payload accepted, in bytes (\(Ranges.maxPayloadBytes.bounds)). Default: $WORKER_MAX_PAYLOAD_BYTES, else 1048576 (1 MiB).", transform: Ranges.maxPayloadBytes.argument)
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
        if uniqueKey != nil && payloadsFrom != nil {
            throw ValidationError("--key cannot be used with --payloads-from: one key would name every job")
        }
    }

    func run() async throws {
        let runAt = try startTime()
        let limit = try payloadLimit()
        let journal = try await database.open(maxPayloadBytes: limit)
        let template = NewJob(
            handler: handler, payload: payload ?? "{}", queue: queue, priority: priority, runAt: runAt,
            maxAttempts: maxAttempts, uniqueKey: uniqueKey, concurrencyKey: concurrencyKey,
            timeout: timeout.map { .milliseconds(Int64(($0 * 1000).rounded(.up))) })
        if let source = payloadsFrom {
            try await BulkEnqueue(journal: journal, template: template, batchSize: batchSize, json: json).run(source: source)
            try await warnIfUnserved(journal)
            return
        }
        let (job, created) = try await journal.enqueue(template)
        if json {
            guard case .object(let members) = job.json else { return }
            Output.line(JSON.object(members + [("created", .bool(created))]).text)
        } else {
            Output.line(String(job.id))
            if !created, let uniqueKey {
                Output.note("key '\(uniqueKey)' is held by unfinished job \(job.id) (\(job.state.rawValue)): nothing was enqueued")
            }
        }
        if created { try await warnIfUnserved(journal) }
    }

    /// Enqueueing still works for a handler no worker has served on this journal (a newer deploy may bring its
    /// plugin), but it is often a typo: say so on standard error. A journal no worker has run on says nothing.
    private func warnIfUnserved(_ journal: any JobStore) async throws {
        guard let unserved = try await journal.unservedHandlers(among: [handler]), !unserved.isEmpty else { return }
        Output.warning(
            "no worker has served handler '\(handler)' on this journal: the job waits until a worker whose plugins provide it runs (a typo? `worker status` lists the workers)")
    }

    private func startTime() throws -> Micros? {
        if let delay {
            return WallClock.system.now() + Micros((delay * 1_000_000).rounded())
        }
        guard let at else { return nil }
        guard let date = ISO8601.parse(at) else {
            throw CLIError(.usage, "--at '\(at)' is not an ISO 8601 time: use e.g. 2026-11-22T10:00:00Z")
        }
        // Checked before converting to microseconds, which would trap far enough out.
        guard ISO8601.seconds.contains(date.timeIntervalSince1970) else {
            throw CLIError(.usage, "--at '\(at)' is out of range: pass a time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z")
        }
        return date.micros
    }

    private func payloadLimit() throws -> Int? {
        if let maxPayloadBytes { return maxPayloadBytes }
        return try Ranges.maxPayloadBytes.environment("WORKER_MAX_PAYLOAD_BYTES")
    }
}

enum ISO8601 {
    /// The times the journal takes, in seconds since 1970: 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
    static let seconds = 0.0..<253_402_300_800

    /// The journal time of an ISO 8601 date-time in `seconds`; nil when it is not one or out of range.
    static func micros(_ text: String) -> Micros? {
        guard let date = parse(text), seconds.contains(date.timeIntervalSince1970) else { return nil }
        return date.micros
    }

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
