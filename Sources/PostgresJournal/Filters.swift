import PostgresNIO
import WorkerStore

/// The WHERE clause of a statement built from parts, with its values bound as parameters (`$1`, `$2`...): user
/// data never becomes SQL text.
struct PGWhere: Sendable {
    private(set) var terms: [String] = []
    private(set) var binds = PostgresBindings()

    /// Binds `value` as the next parameter and returns its placeholder (`$n`).
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    /// Adds a term (constant SQL with placeholders from `bind`), ANDed with the others.
    mutating func add(_ term: String) {
        terms.append(term)
    }

    /// ` WHERE a AND b`, or nothing without terms.
    var clause: String {
        terms.isEmpty ? "" : " WHERE " + conjunction
    }

    /// `a AND b`, or `TRUE` without terms: for a join's ON.
    var conjunction: String {
        terms.isEmpty ? "TRUE" : terms.joined(separator: " AND ")
    }

    /// `head` (constant SQL), the clause, then `tail` (constant SQL, may use placeholders bound here).
    func query(_ head: String, _ tail: String = "") -> PostgresQuery {
        PostgresQuery(unsafeSQL: head + clause + tail, binds: binds)
    }
}

extension JobFilter {
    /// The selecting terms (not the cursor, order or limit) on `jobs.` columns, as the SQLite journal's
    /// `terms()`: equality on state, handler, queue or schedule keeps to an index; the time and the text only filter what
    /// those select. The text is matched as it is (`strpos`, not LIKE: `%` and `_` are plain characters).
    func pgWhere() -> PGWhere {
        var conditions = PGWhere()
        if let state {
            conditions.add("jobs.state = \(conditions.bind(state.rawValue))")
        }
        if let handler {
            conditions.add("jobs.handler = \(conditions.bind(handler))")
        }
        if let queue {
            conditions.add("jobs.queue = \(conditions.bind(queue))")
        }
        if let schedule {
            conditions.add("jobs.schedule = \(conditions.bind(schedule))")
        }
        if let createdSince {
            conditions.add("jobs.created_at >= \(conditions.bind(createdSince))")
        }
        if let search {
            let text = conditions.bind(search)
            conditions.add("(strpos(jobs.payload, \(text)) > 0 OR strpos(jobs.last_error, \(text)) > 0)")
        }
        return conditions
    }
}
