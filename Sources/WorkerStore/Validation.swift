/// Checks on names (handlers, queues, worker ids) and on jobs to enqueue, shared by every store: what is refused
/// and the words of the refusal do not depend on the engine.
public enum Validation {
    /// Arrays and objects nested deeper than this are refused with a message saying so, whatever limit the
    /// engine's own JSON check has (1,000 levels in recent SQLite versions, 2,000 in older ones).
    public static let maxPayloadDepth = 1_000

    /// Refuses an empty name, one longer than 200 bytes, or one with spaces, control or invisible characters.
    public static func name(_ value: String, what: String) throws {
        if value.isEmpty {
            let hint = what == "queue" ? "pass a queue name such as default, or leave the queue out" : "pass the name a plugin provides, e.g. noop"
            throw JournalError(.invalidArgument, "\(what) name is empty: \(hint)")
        }
        if value.utf8.count > 200 {
            throw JournalError(.invalidArgument, "\(what) name is longer than 200 bytes: use a shorter name")
        }
        // Invisible characters too (format, separators): "noop\u{200B}" would look like "noop" in every listing,
        // and bidirectional controls reorder what an operator reads.
        if value.unicodeScalars.contains(where: Self.isRefusedInNames) {
            throw JournalError(.invalidArgument, "\(what) name '\(value)' contains spaces, control or invisible characters: use letters, digits, . _ - :")
        }
    }

    private static func isRefusedInNames(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .spaceSeparator, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }

    /// The deepest nesting of arrays and objects in JSON text (brackets inside strings do not count). Only a
    /// payload of more than `2 * maxPayloadDepth` bytes can be nested deeper than `maxPayloadDepth`, so the
    /// usual small payload is never scanned.
    public static func depth(ofJSON text: String) -> Int {
        var depth = 0
        var deepest = 0
        var strings = JSONStringTracker()
        for byte in text.utf8 where !strings.isInString(UInt32(byte)) {
            switch byte {
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    /// Checks every job of a batch before anything is written; an error names the job's position in
    /// `batchIndex`. Whether a payload is valid JSON is left to the store (its engine parses it).
    public static func jobs(_ jobs: [NewJob], maxPayloadBytes: Int) throws {
        var checkedHandlers = Set<String>()
        var checkedQueues = Set<String>()
        for (index, job) in jobs.enumerated() {
            do {
                try check(job, maxPayloadBytes: maxPayloadBytes, handlers: &checkedHandlers, queues: &checkedQueues)
            } catch var error as JournalError {
                error.batchIndex = index
                throw error
            }
        }
    }

    private static func check(
        _ job: NewJob, maxPayloadBytes: Int, handlers: inout Set<String>, queues: inout Set<String>
    ) throws {
        // Most batches repeat one handler and one queue: check each distinct name once.
        if !handlers.contains(job.handler) {
            try name(job.handler, what: "handler")
            handlers.insert(job.handler)
        }
        if !queues.contains(job.queue) {
            try name(job.queue, what: "queue")
            queues.insert(job.queue)
        }
        if let key = job.uniqueKey, key.isEmpty {
            throw JournalError(.invalidArgument, "unique key is empty: pass a non-empty --key or none")
        }
        if let key = job.concurrencyKey {
            if key.isEmpty || key.utf8.count > 200 || key.contains("\0") {
                throw JournalError(.invalidArgument, "concurrency key must be 1-200 bytes without NUL: pass another --concurrency-key")
            }
        }
        if let timeout = job.timeout, !isTimeout(timeout) {
            throw JournalError(.invalidArgument, "timeout is \(timeout): pass --timeout above 0, up to 604800 seconds (7 days)")
        }
        if let schedule = job.schedule {
            try name(schedule, what: "schedule")
        }
        if let attempts = job.maxAttempts, attempts < 1 {
            throw JournalError(.invalidArgument, "max attempts is \(attempts): pass --max-attempts 1 or more")
        }
        let size = job.payload.utf8.count
        if size > maxPayloadBytes {
            throw JournalError(
                .payloadTooLarge,
                "payload is \(size) bytes, over the limit of \(maxPayloadBytes): store large data elsewhere and pass a reference, or raise --max-payload-bytes")
        }
        if size == 0 {
            throw JournalError(.invalidPayload, "payload is empty: pass JSON such as '{}'")
        }
        if size > 2 * maxPayloadDepth, depth(ofJSON: job.payload) > maxPayloadDepth {
            throw JournalError(
                .invalidPayload,
                "payload is nested deeper than \(maxPayloadDepth) levels: flatten it, or store it elsewhere and pass a reference")
        }
    }

    /// Whether a job or a queue may have `timeout`: above zero, at most 7 days (kept in whole ms, rounded up).
    public static func isTimeout(_ timeout: Duration) -> Bool {
        timeout > .zero && timeout <= .seconds(604_800)
    }

    /// The message of a payload the engine refused as JSON, the same for every store.
    public static let invalidJSONMessage = "payload is not valid JSON: fix it (e.g. --payload '{\"ms\": 100}')"
}

extension JournalError {
    /// Runs the enqueue of one job: an error it throws carries no batch position (a job alone is not "job 1 of
    /// the batch").
    public static func alone<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch var error as JournalError {
            error.batchIndex = nil
            throw error
        }
    }
}
