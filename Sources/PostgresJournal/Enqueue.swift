import Foundation
import Logging
import PostgresNIO
import WorkerStore

extension PostgresJournal {
    /// Enqueues one job and returns it (the existing one when its unique key is taken).
    public func enqueue(_ job: NewJob) async throws -> (job: Job, created: Bool) {
        let options = self.options
        let logger = self.logger
        return try await JournalError.alone {
            let result = try await transaction("enqueue") { connection in
                let result = try await Self.enqueue([job], on: connection, options: options, logger: logger)[0]
                return (try await Job.require(connection, id: result.id, logger: logger), result.created)
            }
            announceNewWork()
            return result
        }
    }

    /// Enqueues all `jobs` in one transaction: either every one is enqueued (or matched by key) or none is.
    /// An error about one job carries its position in `batchIndex`.
    public func enqueue(batch jobs: [NewJob]) async throws -> [Enqueued] {
        let options = self.options
        let logger = self.logger
        let results: [Enqueued]
        do {
            results = try await transaction("enqueue") { connection in
                try await Self.enqueue(jobs, on: connection, options: options, logger: logger)
            }
        } catch let error as JournalError where error.code == .invalidPayload && error.batchIndex == nil && jobs.count > 1 {
            throw try await refusedPayload(jobs) ?? error
        }
        announceNewWork()
        return results
    }

    /// The server refused a payload of `jobs` but did not say which: ask it, payload by payload, in one statement
    /// (`worker_is_json` catches each cast's error), so that the error names the job as on SQLite.
    private func refusedPayload(_ jobs: [NewJob]) async throws -> JournalError? {
        let payloads = jobs.map(\.payload)
        let rows = try await self.rows(
            "SELECT min(ord) FROM unnest(\(payloads)::text[]) WITH ORDINALITY AS p(payload, ord) WHERE NOT worker_is_json(payload)")
        guard let ordinal = try rows.first?.decode(Int64?.self) else { return nil }
        return JournalError(.invalidPayload, Validation.invalidJSONMessage, batchIndex: Int(ordinal) - 1)
    }

    /// Enqueues `jobs` on `connection`, a connection the application owns, inside the transaction it has open
    /// there: the jobs and their creation events are written with the application's own rows, and **commit or
    /// roll back with the application's transaction**. Workers are woken (`NOTIFY worker_jobs`) only when that
    /// transaction commits; a rolled-back one leaves no job and wakes nobody. Outside a transaction the
    /// statement commits on its own.
    ///
    /// The same checks, states and unique-key rules as `enqueue(batch:)`: a job whose key an unfinished job holds
    /// is not enqueued, and its result names the holder (`created: false`). Refused input throws `JournalError`
    /// with the job's position in `batchIndex` and aborts the application's transaction (roll it back); errors of
    /// the connection itself are thrown as postgres-nio reports them. Under REPEATABLE READ or SERIALIZABLE, a
    /// producer racing for the same key may get a serialization failure (SQLSTATE 40001): retry the transaction.
    ///
    /// `options` gives the payload limit, the default attempts and the pid recorded in the events.
    public static func enqueue(
        _ jobs: [NewJob], on connection: PostgresConnection, options: PostgresJournalOptions = PostgresJournalOptions(),
        logger: Logger = Logger(label: "worker.journal", factory: { _ in SwiftLogNoOpLogHandler() })
    ) async throws -> [Enqueued] {
        try Validation.jobs(jobs, maxPayloadBytes: options.maxPayloadBytes)
        guard !jobs.isEmpty else { return [] }
        // A key repeated inside the batch collapses onto its first job: only first uses reach the statement.
        var firstWithKey: [String: Int] = [:]
        var results = [Enqueued?](repeating: nil, count: jobs.count)
        var pending: [Int] = []
        pending.reserveCapacity(jobs.count)
        for (index, job) in jobs.enumerated() {
            if let key = job.uniqueKey {
                if firstWithKey[key] != nil { continue }
                firstWithKey[key] = index
            }
            pending.append(index)
        }
        // A key taken by a producer that committed after this statement's snapshot is neither inserted nor seen
        // holding: the next statement (a new snapshot under READ COMMITTED) sees the holder, or inserts when the
        // holder finished meanwhile.
        for _ in 0..<8 where !pending.isEmpty {
            let rows = try await insert(pending.map { jobs[$0] }, on: connection, options: options, logger: logger, indexes: pending)
            var unresolved: [Int] = []
            for (position, index) in pending.enumerated() {
                if let row = rows[position] { results[index] = row } else { unresolved.append(index) }
            }
            pending = unresolved
        }
        guard pending.isEmpty else {
            throw JournalError(.unavailable, "the unique key of a job kept changing hands while it was enqueued: try again", batchIndex: pending[0])
        }
        for (index, job) in jobs.enumerated() where results[index] == nil {
            guard let key = job.uniqueKey, let first = firstWithKey[key], let holder = results[first] else {
                throw JournalError(.internalError, "enqueue left a job without a result", batchIndex: index)
            }
            results[index] = Enqueued(id: holder.id, created: false)
        }
        return results.map { $0! }
    }

    /// One statement: the jobs not held by a key, their creation events, and one wake-up for the workers when
    /// any row was written. Returns per job its result, or nil when its key was taken by a row this statement
    /// cannot see.
    private static func insert(
        _ jobs: [NewJob], on connection: PostgresConnection, options: PostgresJournalOptions, logger: Logger, indexes: [Int]
    ) async throws -> [Enqueued?] {
        var handlers: [String] = [], queues: [String] = [], keys: [String] = [], payloads: [String] = []
        var priorities: [Int64] = [], attempts: [Int64] = [], startsGiven: [Bool] = [], starts: [Int64] = []
        var concurrencyKeys: [String] = [], timeouts: [Int64] = [], schedules: [String] = []
        handlers.reserveCapacity(jobs.count)
        payloads.reserveCapacity(jobs.count)
        for job in jobs {
            handlers.append(job.handler)
            queues.append(job.queue)
            keys.append(job.uniqueKey ?? "")  // arrays cannot hold NULL; an empty key is refused, so '' means none
            payloads.append(job.payload)
            priorities.append(Int64(job.priority))
            attempts.append(Int64(job.maxAttempts ?? options.defaultMaxAttempts))
            startsGiven.append(job.runAt != nil)
            starts.append(job.runAt ?? 0)
            concurrencyKeys.append(job.concurrencyKey ?? "")  // '' means none, as for unique keys (an empty one is refused)
            timeouts.append(job.timeout?.journalMilliseconds ?? 0)  // 0 means none (a timeout is at least 1 ms)
            schedules.append(job.schedule ?? "")
        }
        let pid = options.pid
        let query: PostgresQuery = """
            WITH input AS MATERIALIZED (
                SELECT u.ord, u.handler, u.queue, NULLIF(u.unique_key, '') AS unique_key, u.payload,
                       u.priority::integer AS priority, u.max_attempts::integer AS max_attempts, u.start_given, u.start,
                       NULLIF(u.concurrency_key, '') AS concurrency_key, NULLIF(u.timeout_ms, 0) AS timeout_ms,
                       NULLIF(u.schedule, '') AS schedule
                FROM unnest(\(handlers)::text[], \(queues)::text[], \(keys)::text[], \(payloads)::text[],
                            \(priorities)::bigint[], \(attempts)::bigint[], \(startsGiven)::boolean[], \(starts)::bigint[],
                            \(concurrencyKeys)::text[], \(timeouts)::bigint[], \(schedules)::text[])
                     WITH ORDINALITY AS u(handler, queue, unique_key, payload, priority, max_attempts, start_given, start,
                                          concurrency_key, timeout_ms, schedule, ord)
            ),
            clock AS MATERIALIZED (
                SELECT worker_micros() AS now, pg_get_serial_sequence('jobs', 'id')::regclass AS ids
            ),
            fresh AS MATERIALIZED (
                SELECT input.*, holder.id AS holder, CASE WHEN holder.id IS NULL THEN nextval(clock.ids) END AS id,
                       CASE WHEN input.start_given THEN input.start ELSE clock.now END AS run_at, clock.now
                FROM input CROSS JOIN clock
                LEFT JOIN LATERAL (
                    SELECT jobs.id FROM jobs
                    WHERE input.unique_key IS NOT NULL AND jobs.unique_key = input.unique_key AND jobs.unique_key IS NOT NULL
                      AND jobs.state NOT IN ('completed', 'dead', 'cancelled')
                ) AS holder ON true
                ORDER BY input.ord
            ),
            -- Jobs without a key are inserted plainly: ON CONFLICT costs a speculative insertion per row.
            plain AS (
                \(unescaped: Self.insertFromFresh) holder IS NULL AND unique_key IS NULL ORDER BY ord
                RETURNING id, state, created_at
            ),
            -- Keyed rows go in key order, whatever the batch's: an insert waits for a producer whose uncommitted row
            -- holds its key, so two batches taking the same keys in opposite orders would deadlock (40P01).
            keyed AS (
                \(unescaped: Self.insertFromFresh) holder IS NULL AND unique_key IS NOT NULL ORDER BY unique_key COLLATE "C"
                ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL AND state NOT IN ('completed', 'dead', 'cancelled')
                DO NOTHING
                RETURNING id, state, created_at
            ),
            inserted AS MATERIALIZED (SELECT * FROM plain UNION ALL SELECT * FROM keyed),
            events AS (
                INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
                SELECT id, created_at, NULL, state, 0, NULL, \(pid), 'enqueued' FROM inserted
            ),
            wake AS (
                SELECT pg_notify(\(unescaped: "'\(PostgresJournal.wakeChannel)'"), 'n') FROM (SELECT FROM inserted LIMIT 1) AS written
            )
            SELECT array_agg(COALESCE(fresh.holder, inserted.id, 0) ORDER BY fresh.ord),
                   array_agg(inserted.id IS NOT NULL ORDER BY fresh.ord), (SELECT count(*) FROM wake)
            FROM fresh LEFT JOIN inserted ON inserted.id = fresh.id
            """
        // One row of two arrays (0: no result yet): decoding ten thousand rows would cost more than the insert.
        var results: [Enqueued?] = []
        do {
            for try await (ids, created, _) in try await connection.query(query, logger: logger).decode(([Int64], [Bool], Int64).self) {
                results = zip(ids, created).map { $0 == 0 ? nil : Enqueued(id: $0, created: $1) }
            }
        } catch let error as PSQLError {
            throw refusal(error, jobs, indexes: indexes) ?? error
        }
        guard results.count == jobs.count else {
            throw JournalError(.internalError, "enqueue returned \(results.count) results for \(jobs.count) jobs")
        }
        return results
    }

    /// The insert of the `fresh` rows a batch's statement names (followed by which of them, and how).
    private static let insertFromFresh = """
        INSERT INTO jobs (id, handler, queue, state, unique_key, payload, priority, max_attempts, run_at, created_at, updated_at,
                          concurrency_key, timeout_ms, schedule)
        OVERRIDING SYSTEM VALUE
        SELECT id, handler, queue, CASE WHEN run_at > now THEN 'scheduled' ELSE 'queued' END, unique_key, payload,
               priority, max_attempts, run_at, now, now, concurrency_key, timeout_ms, schedule
        FROM fresh WHERE
        """

    /// What the server refused in a value of the batch, as the SQLite journal words it, naming the job when it
    /// can be told: the server checks the JSON (the payload column's CHECK), but does not say which row failed.
    private static func refusal(_ error: PSQLError, _ jobs: [NewJob], indexes: [Int]) -> JournalError? {
        let state = error.serverInfo?[.sqlState] ?? ""
        switch state {
        case "22P02", "22P05", "22021", "23514":  // bad JSON, \u0000 in JSON, a NUL byte in text, a failed CHECK
            if let key = jobs.firstIndex(where: { $0.uniqueKey?.contains("\0") == true }) {
                return JournalError(.invalidArgument, "unique key contains a NUL character, which PostgreSQL cannot store: use another key", batchIndex: indexes[key])
            }
            let position = jobs.firstIndex { !isJSON($0.payload) } ?? jobs.firstIndex { $0.payload.contains("\\u0000") }
            return JournalError(.invalidPayload, Validation.invalidJSONMessage, batchIndex: position.map { indexes[$0] })
        case "22003":
            let range = Int(Int32.min)...Int(Int32.max)
            let position = jobs.firstIndex { !range.contains($0.priority) || !range.contains($0.maxAttempts ?? 1) }
            return JournalError(
                .invalidArgument, "priority or max attempts is outside \(range.lowerBound)...\(range.upperBound): pass a smaller number",
                batchIndex: position.map { indexes[$0] })
        default:
            return nil
        }
    }

    /// Whether `text` parses as JSON here: only to name the job the server refused, never to decide.
    private static func isJSON(_ text: String) -> Bool {
        !text.contains("\0") && (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil
    }

    /// The channel of the wake-ups workers listen on: every transaction that makes work claimable sends one
    /// notification there (payload `n`, to be ignored), delivered when it commits.
    public static let wakeChannel = "worker_jobs"
}
