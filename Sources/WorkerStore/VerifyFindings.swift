import Foundation

/// The findings of `JobStore.verify`, worded once for every store: an operator reads the same line whatever engine
/// keeps the journal.
public enum VerifyFinding {
    /// A table, index, trigger, function or sequence of the schema the database lacks.
    public static func missing(kind: String, name: String) -> String {
        "the journal's \(kind) \(name) is missing (the schema was changed outside the worker): restore the database from a backup"
    }

    /// A job without a single journal event.
    public static func noEvents(job: Int64) -> String { "job \(job) has no journal events" }

    /// A job whose state is not the one its last event moved it to.
    public static func stateDiffers(job: Int64, state: String, lastEvent: String?) -> String {
        "job \(job) is \(state) but its last event says \(lastEvent ?? "nothing")"
    }

    /// An event that does not start where the job's previous event ended.
    public static func brokenChain(job: Int64, event: Int64, from: String?, previous: String?) -> String {
        "job \(job) event \(event) goes from \(from ?? "nothing") but the previous event ended in \(previous ?? "nothing")"
    }

    /// An event recording a transition `JobState.canTransition` forbids.
    public static func illegalTransition(job: Int64, event: Int64, from: String?, to: String) -> String {
        "job \(job) event \(event) records an illegal transition \(from ?? "nothing") -> \(to)"
    }

    /// An event naming a state no worker writes.
    public static func unknownState(job: Int64, event: Int64, from: String?, to: String) -> String {
        "job \(job) event \(event) has an unknown state (\(from ?? "nothing") -> \(to))"
    }

    /// Events of a job that does not exist: an enqueue outside the worker wrote its event for a row it had not
    /// inserted, and a later job with that id would take them for its history.
    public static func eventsOfMissingJob(job: Int64, events: Int, first: Int64) -> String {
        "\(events) event(s) from event \(first) on name job \(job), which does not exist: a program enqueued without following docs/journal.md (its event must be written only for a row it inserted)"
    }

    /// A checkpoint (`kind` "checkpoint") or `count` step records (`kind` "step") of a job that does not exist:
    /// left by a deletion outside the worker, they would be taken for the history of a job given that id.
    public static func recordsOfMissingJob(job: Int64, kind: String, count: Int) -> String {
        "\(count) \(kind) record(s) name job \(job), which does not exist: they were left by a deletion outside the worker; delete them"
    }

    /// A running job that names no worker.
    public static func runningWithoutWorker(job: Int64) -> String { "job \(job) is running but names no worker" }

    /// A running job held by a worker that never registered.
    public static func runningUnderUnregistered(job: Int64, worker: String) -> String {
        "job \(job) is running under worker \(worker), which is not registered"
    }

    /// A running job held by a worker that has stopped.
    public static func runningUnderStopped(job: Int64, worker: String) -> String {
        "job \(job) is running under worker \(worker), which has stopped: run `worker resume` to recover it"
    }

    /// A running job held by a registered worker whose process died (its liveness lock is free).
    public static func runningUnderDead(job: Int64, worker: String) -> String {
        "job \(job) is running under worker \(worker), which is dead (its lock is free): the next `worker run` or `worker resume` recovers it"
    }

    /// The finding for a running job held by `worker` (nil: none named), or nil when that worker is registered,
    /// not stopped and `live()`.
    public static func running(
        job: Int64, worker: String?, registered: Bool, stopped: Bool, live: () throws -> Bool
    ) rethrows -> String? {
        guard let worker else { return runningWithoutWorker(job: job) }
        if !registered { return runningUnderUnregistered(job: job, worker: worker) }
        if stopped { return runningUnderStopped(job: job, worker: worker) }
        return try live() ? nil : runningUnderDead(job: job, worker: worker)
    }

    /// A finished job without a finish time, or a job with more attempts than allowed.
    public static func inconsistentCounts(job: Int64, state: String) -> String {
        "job \(job) (\(state)) has inconsistent attempts or finish time"
    }

    /// The pairs (from, to) `JobState.canTransition` allows, nil `from` written as "" (for stores that check
    /// transitions in SQL, where an array cannot hold a NULL).
    public static let allowedTransitions: (from: [String], to: [String]) = {
        var from: [String] = []
        var to: [String] = []
        for source in [nil] + JobState.allCases.map(Optional.some) {
            for target in JobState.allCases where JobState.canTransition(from: source, to: target) {
                from.append(source?.rawValue ?? "")
                to.append(target.rawValue)
            }
        }
        return (from, to)
    }()
}

/// The objects a schema's migrations create, read from their SQL: what `verify` expects to find.
public enum SchemaObjects {
    /// Each `CREATE [UNIQUE] TABLE|INDEX|TRIGGER|FUNCTION|SEQUENCE name` in `migrations`, by kind (lower case) and
    /// name.
    public static func created(by migrations: [String]) -> [(kind: String, name: String)] {
        let pattern = try! NSRegularExpression(  // a literal pattern: cannot fail
            pattern: #"CREATE\s+(?:UNIQUE\s+)?(TABLE|INDEX|TRIGGER|FUNCTION|SEQUENCE)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)"#,
            options: [.caseInsensitive])
        var objects: [(kind: String, name: String)] = []
        for sql in migrations {
            let text = sql as NSString
            for match in pattern.matches(in: sql, range: NSRange(location: 0, length: text.length)) {
                objects.append((text.substring(with: match.range(at: 1)).lowercased(), text.substring(with: match.range(at: 2))))
            }
        }
        return objects
    }
}
