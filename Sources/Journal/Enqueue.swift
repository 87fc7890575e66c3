import GRDB

/// A job to enqueue. Only `handler` is required.
public struct NewJob: Sendable, Equatable {
    /// The handler name a plugin provides.
    public var handler: String
    /// JSON text. Default `{}`.
    public var payload: String
    /// Default `default`.
    public var queue: String
    /// Higher runs first. Default 0.
    public var priority: Int
    /// Earliest start; nil or a time not in the future means now (`queued`), later means `scheduled`.
    public var runAt: Micros?
    /// Nil takes `JournalOptions.defaultMaxAttempts`.
    public var maxAttempts: Int?
    /// While a job with this key is unfinished, enqueueing another returns the existing one.
    public var uniqueKey: String?

    /// A job for `handler` with the given fields.
    public init(
        handler: String, payload: String = "{}", queue: String = "default", priority: Int = 0,
        runAt: Micros? = nil, maxAttempts: Int? = nil, uniqueKey: String? = nil
    ) {
        self.handler = handler
        self.payload = payload
        self.queue = queue
        self.priority = priority
        self.runAt = runAt
        self.maxAttempts = maxAttempts
        self.uniqueKey = uniqueKey
    }
}

/// The result of enqueueing one job.
public struct Enqueued: Sendable, Equatable {
    /// The new job's id, or the id of the unfinished job that already holds the unique key.
    public var id: Int64
    /// False when the unique key matched an existing job and nothing was enqueued.
    public var created: Bool
}

extension Journal {
    /// Enqueues one job and returns it (the existing one when its unique key is taken).
    public func enqueue(_ job: NewJob) async throws -> (job: Job, created: Bool) {
        try validate(job, index: nil)
        let options = self.options
        let now = self.now
        return try await transaction { db in
            let result = try Self.insert(job, db: db, now: now, options: options, index: nil)
            return (try Job.require(db, id: result.id), result.created)
        }
    }

    /// Enqueues all `jobs` in one transaction: either every one is enqueued (or matched by key) or none is.
    public func enqueue(batch jobs: [NewJob]) async throws -> [Enqueued] {
        for (index, job) in jobs.enumerated() {
            try validate(job, index: index)
        }
        let options = self.options
        let now = self.now
        return try await transaction { db in
            var results: [Enqueued] = []
            results.reserveCapacity(jobs.count)
            for (index, job) in jobs.enumerated() {
                results.append(try Self.insert(job, db: db, now: now, options: options, index: index))
            }
            return results
        }
    }

    private static let insertJobSQL = """
        INSERT INTO jobs (handler, queue, state, priority, payload, unique_key, max_attempts, run_at, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT DO NOTHING
        """

    private static func insert(_ job: NewJob, db: Database, now: Micros, options: JournalOptions, index: Int?) throws -> Enqueued {
        let runAt = job.runAt ?? now
        let state: JobState = runAt > now ? .scheduled : .queued
        do {
            try db.cachedStatement(sql: insertJobSQL).execute(arguments: [
                job.handler, job.queue, state.rawValue, job.priority, job.payload, job.uniqueKey,
                job.maxAttempts ?? options.defaultMaxAttempts, runAt, now, now,
            ])
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw JournalError(.invalidPayload, "payload is not valid JSON: fix it (e.g. --payload '{\"ms\": 100}')", batchIndex: index)
        }
        guard db.changesCount == 1 else {
            let existing = try Int64.fetchOne(
                db.cachedStatement(sql: """
                    SELECT id FROM jobs WHERE unique_key = ? AND state NOT IN ('completed', 'dead', 'cancelled')
                    """),
                arguments: [job.uniqueKey])
            guard let existing else {
                throw JournalError(.internalError, "insert ignored without a unique key match", batchIndex: index)
            }
            return Enqueued(id: existing, created: false)
        }
        let id = db.lastInsertedRowID
        try Events.append(
            db, jobID: id, at: now, from: nil, to: state, attempt: 0, worker: nil, pid: options.pid,
            reason: state == .scheduled ? "enqueued for \(iso8601(runAt))" : "enqueued")
        return Enqueued(id: id, created: true)
    }

    private func validate(_ job: NewJob, index: Int?) throws {
        do {
            try check(job)
        } catch var error as JournalError {
            error.batchIndex = index
            throw error
        }
    }

    private func check(_ job: NewJob) throws {
        try Validation.name(job.handler, what: "handler")
        try Validation.name(job.queue, what: "queue")
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
    }
}

/// Checks on names (handlers, queues) shared by the journal's entry points.
enum Validation {
    static func name(_ value: String, what: String) throws {
        if value.isEmpty {
            throw JournalError(.invalidArgument, "\(what) name is empty: pass the name a plugin provides, e.g. noop")
        }
        if value.utf8.count > 200 {
            throw JournalError(.invalidArgument, "\(what) name is longer than 200 bytes: use a shorter name")
        }
        if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == " " }) {
            throw JournalError(.invalidArgument, "\(what) name '\(value)' contains spaces or control characters: use letters, digits, . _ - :")
        }
    }
}
