import PostgresNIO
import WorkerStore

/// What a worker asks while idle, what `/metrics` asks at each scrape: each statement repeats the WHERE terms of a
/// partial index of unfinished jobs (jobs_ready, jobs_interrupted, jobs_running, jobs_scheduled), so that it reads
/// those jobs only, never the history (PlanTests checks the plans).
extension PostgresJournal {
    /// Jobs that keep a worker busy: queued, running, retrying or interrupted (scheduled ones do not count).
    public func activeJobCount() async throws -> Int {
        try await rows(Self.activeJobCountQuery).first?.decode(Int.self) ?? 0
    }

    static let activeJobCountQuery: PostgresQuery = """
        SELECT (SELECT count(*) FROM jobs WHERE state IN ('queued', 'retrying'))
             + (SELECT count(*) FROM jobs WHERE state = 'interrupted')
             + (SELECT count(*) FROM jobs WHERE state = 'running')
        """

    /// Unfinished jobs (queued, retrying, interrupted, running) per handler, in `queues` (every queue when
    /// empty): how many wait and how many run.
    public func activeJobsByHandler(queues: [String]) async throws -> [ActiveHandlerJobs] {
        try await rows(Self.activeJobsByHandlerQuery(queues: queues)).map { row in
            let (handler, waiting, running) = try row.decode((String, Int, Int).self)
            return ActiveHandlerJobs(handler: handler, waiting: waiting, running: running)
        }
    }

    static func activeJobsByHandlerQuery(queues: [String]) -> PostgresQuery {
        // Without queues the condition is left out, not made always true: the planner then has nothing to guess.
        let inQueues = queues.isEmpty ? "" : " AND queue = ANY($1)"
        var binds = PostgresBindings()
        if !queues.isEmpty { binds.append(queues) }
        return PostgresQuery(unsafeSQL: """
            SELECT handler, count(*) FILTER (WHERE state <> 'running'), count(*) FILTER (WHERE state = 'running') FROM (
                SELECT handler, state FROM jobs WHERE state IN ('queued', 'retrying')\(inQueues)
                UNION ALL SELECT handler, state FROM jobs WHERE state = 'interrupted'\(inQueues)
                UNION ALL SELECT handler, state FROM jobs WHERE state = 'running'\(inQueues)
            ) active GROUP BY handler ORDER BY handler COLLATE "C"
            """, binds: binds)
    }

    /// The earliest `run_at` still to come (by the server's clock) of a scheduled or retrying job. Past ones are
    /// left out: a worker asks right after a claim, which took every due job it could; a due job still waiting
    /// belongs to a queue or handler it does not serve, and waking for it would only spin.
    public func nextRunAt() async throws -> Micros? {
        try await rows(Self.nextRunAtQuery).first?.decode(Int64?.self)
    }

    static let nextRunAtQuery: PostgresQuery = """
        WITH now AS MATERIALIZED (SELECT worker_micros() AS at)
        SELECT least(
            (SELECT min(run_at) FROM jobs WHERE state = 'scheduled' AND run_at > (SELECT at FROM now)),
            (SELECT min(run_at) FROM jobs WHERE state IN ('queued', 'retrying') AND state = 'retrying' AND run_at > (SELECT at FROM now)))
        """

    /// How many of `ids` are waiting to run or running (queued, interrupted, running).
    public func unfinishedCount(of ids: [Int64]) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        return try await rows(Self.unfinishedCountQuery(ids)).first?.decode(Int.self) ?? 0
    }

    static func unfinishedCountQuery(_ ids: [Int64]) -> PostgresQuery {
        "SELECT count(*) FROM jobs WHERE id = ANY(\(ids)) AND state IN ('queued', 'interrupted', 'running')"
    }

    /// Handlers of waiting (queued or retrying) jobs that are not in `loaded`, sorted.
    public func waitingHandlers(notIn loaded: Set<String>) async throws -> [String] {
        try await rows(Self.waitingHandlersQuery(notIn: loaded)).map { try $0.decode(String.self) }
    }

    static func waitingHandlersQuery(notIn loaded: Set<String>) -> PostgresQuery {
        """
        SELECT DISTINCT handler COLLATE "C" FROM jobs WHERE state IN ('queued', 'retrying') AND handler <> ALL(\(Array(loaded)))
        ORDER BY 1
        """
    }

    /// Waiting (queued or retrying) jobs per handler, most first: shows jobs no loaded plugin can run.
    public func waitingByHandler() async throws -> [(handler: String, count: Int)] {
        try await rows(Self.waitingByHandlerQuery).map { row in
            let (handler, count) = try row.decode((String, Int).self)
            return (handler, count)
        }
    }

    static let waitingByHandlerQuery: PostgresQuery = """
        SELECT handler, count(*) FROM jobs WHERE state IN ('queued', 'retrying')
        GROUP BY handler ORDER BY count(*) DESC, handler COLLATE "C"
        """
}
