import WorkerStore
import GRDB

extension Journal {
    /// Enqueues one job and returns it (the existing one when its unique key is taken).
    public func enqueue(_ job: NewJob) async throws -> (job: Job, created: Bool) {
        do {
            let context = try prepare([job])
            let result = try await transaction("enqueue") { db in
                let result = try context.insert(db)[0]
                return (try Job.require(db, id: result.id), result.created)
            }
            announceNewWork()
            return result
        } catch var error as JournalError {
            error.batchIndex = nil  // a job alone is not "job 1 of the batch"
            throw error
        }
    }

    /// Enqueues all `jobs` in one transaction: either every one is enqueued (or matched by key) or none is.
    /// An error about one job carries its position in `batchIndex`.
    public func enqueue(batch jobs: [NewJob]) async throws -> [Enqueued] {
        let context = try prepare(jobs)
        let results = try await transaction("enqueue") { db in try context.insert(db) }
        announceNewWork()
        return results
    }

    private func prepare(_ jobs: [NewJob]) throws -> EnqueueContext {
        var checkedNames = Set<String>()
        for (index, job) in jobs.enumerated() {
            try validate(job, index: index, checkedNames: &checkedNames)
        }
        return EnqueueContext(jobs: jobs, now: now, pid: options.pid, defaultMaxAttempts: options.defaultMaxAttempts)
    }

    private func validate(_ job: NewJob, index: Int, checkedNames: inout Set<String>) throws {
        do {
            try check(job, checkedNames: &checkedNames)
        } catch var error as JournalError {
            error.batchIndex = index
            throw error
        }
    }

    private func check(_ job: NewJob, checkedNames: inout Set<String>) throws {
        // Most batches repeat one handler and one queue: check each distinct name once.
        if !checkedNames.contains(job.handler) {
            try Validation.name(job.handler, what: "handler")
            checkedNames.insert(job.handler)
        }
        if !checkedNames.contains("queue:" + job.queue) {
            try Validation.name(job.queue, what: "queue")
            checkedNames.insert("queue:" + job.queue)
        }
        if let key = job.uniqueKey, key.isEmpty {
            throw JournalError(.invalidArgument, "unique key is empty: pass a non-empty --key or none")
        }
        if let attempts = job.maxAttempts, attempts < 1 {
            throw JournalError(.invalidArgument, "max attempts is \(attempts): pass --max-attempts 1 or more")
        }
        let size = job.payload.utf8.count
        if size > options.maxPayloadBytes {
            throw JournalError(
                .payloadTooLarge,
                "payload is \(size) bytes, over the limit of \(options.maxPayloadBytes): store large data elsewhere and pass a reference, or raise --max-payload-bytes")
        }
        if size == 0 {
            throw JournalError(.invalidPayload, "payload is empty: pass JSON such as '{}'")
        }
        if size > 2 * Validation.maxPayloadDepth, Validation.depth(ofJSON: job.payload) > Validation.maxPayloadDepth {
            throw JournalError(
                .invalidPayload,
                "payload is nested deeper than \(Validation.maxPayloadDepth) levels: flatten it, or store it elsewhere and pass a reference")
        }
    }
}


/// Validated jobs and the values an enqueue transaction needs, captured so the closure stays `Sendable`.
struct EnqueueContext: Sendable {
    let jobs: [NewJob]
    let now: Micros
    let pid: Int32
    let defaultMaxAttempts: Int

    /// Inserts the jobs and their creation events; call inside a write transaction.
    func insert(_ db: Database) throws -> [Enqueued] {
        let firstNewID = (try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(id) FROM jobs")) ?? 0) + 1
        let inserter = try JobInserter(db)
        var results: [Enqueued] = []
        results.reserveCapacity(jobs.count)
        for (index, job) in jobs.enumerated() {
            // A held key is looked up first: an insert that the key's index then ignores would still use up an id
            // (AUTOINCREMENT counts it).
            if let key = job.uniqueKey, let holder = try Self.unfinishedHolder(of: key, db: db) {
                results.append(Enqueued(id: holder, created: false))
                continue
            }
            let runAt = job.runAt ?? now
            let inserted: Int64?
            do {
                inserted = try inserter.insert(
                    handler: job.handler, queue: job.queue, state: runAt > now ? .scheduled : .queued,
                    uniqueKey: job.uniqueKey, payload: job.payload, priority: job.priority,
                    maxAttempts: job.maxAttempts ?? defaultMaxAttempts, runAt: runAt, now: now)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                // Names, sizes and numbers were checked before: the remaining CHECK is json_valid(payload).
                throw JournalError(
                    .invalidPayload, "payload is not valid JSON: fix it (e.g. --payload '{\"ms\": 100}')", batchIndex: index)
            }
            if let id = inserted {
                results.append(Enqueued(id: id, created: true))
            } else {
                results.append(Enqueued(id: try Self.holder(of: job.uniqueKey, db: db, index: index), created: false))
            }
        }
        // The creation events of every row this transaction inserted, in one statement.
        try db.cachedStatement(sql: """
            INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
            SELECT id, created_at, NULL, state, 0, NULL, ?, 'enqueued' FROM jobs WHERE id >= ?
            """).execute(arguments: [Int64(pid), firstNewID])
        return results
    }

    private static func holder(of key: String?, db: Database, index: Int) throws -> Int64 {
        guard let key, let existing = try unfinishedHolder(of: key, db: db) else {
            throw JournalError(.internalError, "insert ignored without a unique key match", batchIndex: index)
        }
        return existing
    }

    /// The unfinished job that holds `key`, through the key's partial unique index.
    private static func unfinishedHolder(of key: String, db: Database) throws -> Int64? {
        try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM jobs WHERE unique_key = ? AND unique_key IS NOT NULL AND state <> 'completed' AND state <> 'dead' AND state <> 'cancelled'"),
            arguments: [key])
    }
}

/// Checks on names (handlers, queues) and payloads shared by the journal's entry points.
enum Validation {
    /// Arrays and objects nested deeper than this are refused with a message saying so, the same whichever limit
    /// the SQLite build's json_valid has (1,000 levels in recent versions, 2,000 in older ones).
    static let maxPayloadDepth = 1_000

    static func name(_ value: String, what: String) throws {
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
    static func depth(ofJSON text: String) -> Int {
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
}
