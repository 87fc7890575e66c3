import Foundation
import Schedules

// The JSON shapes of the journal's records, the same for `worker ... --json` and the admin endpoint's `/api/`.

extension Job {
    /// The job object of the contract's `--json` output.
    public var json: JSON {
        .object([
            ("id", .int(id)),
            ("handler", .string(handler)),
            ("queue", .string(queue)),
            ("state", .string(state.rawValue)),
            ("priority", .int(Int64(priority))),
            ("attempts", .int(Int64(attempts))),
            ("max_attempts", .int(Int64(maxAttempts))),
            ("crashes", .int(Int64(crashes))),
            ("payload", .raw(payload)),
            ("checkpoint", checkpoint.map(Self.checkpointJSON) ?? .null),
            ("unique_key", .optional(uniqueKey)),
            ("concurrency_key", .optional(concurrencyKey)),
            ("run_at", .string(iso8601(runAt))),
            ("created_at", .string(iso8601(createdAt))),
            ("updated_at", .string(iso8601(updatedAt))),
            ("finished_at", .optional(finishedAt.map(iso8601))),
            ("worker_id", .optional(workerID)),
            ("last_error", .optional(lastError)),
            ("cancel_requested_at", .optional(cancelRequestedAt.map(iso8601))),
            ("plugin", plugin.map { .object([("name", .string($0.name)), ("version", .string($0.version)), ("sha256", .string($0.sha256))]) } ?? .null),
            ("timeout_ms", timeout.map { .int($0.journalMilliseconds) } ?? .null),
            ("effective_timeout_ms", effectiveTimeout.map { .int($0.journalMilliseconds) } ?? .null),
            ("schedule", .optional(schedule)),
        ])
    }

    /// A checkpoint as JSON: embedded as is when it is JSON, else as a UTF-8 string, else as base64.
    public static func checkpointJSON(_ data: Data) -> JSON {
        if (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil,
           let text = String(data: data, encoding: .utf8) {
            return .raw(text)
        }
        if let text = String(data: data, encoding: .utf8) { return .string(text) }
        return .object([("base64", .string(data.base64EncodedString()))])
    }

}

extension JobEvent {
    public var json: JSON {
        .object([
            ("id", .int(id)),
            ("at", .string(iso8601(at))),
            ("from", .optional(from?.rawValue)),
            ("to", .string(to.rawValue)),
            ("attempt", .int(Int64(attempt))),
            ("worker_id", .optional(workerID)),
            ("pid", .int(Int64(pid))),
            ("reason", .string(reason)),
        ])
    }
}


extension StepRecord {
    /// A step object of `worker job --json`.
    public var json: JSON {
        .object([
            ("name", .string(name)), ("attempt", .int(Int64(attempt))),
            ("started_at", .string(iso8601(startedAt))),
            ("completed_at", .optional(completedAt.map(iso8601))),
            ("failed_at", .optional(failedAt.map(iso8601))),
            ("failed_attempt", .optional(failedAttempt.map(Int64.init))),
            ("error", .optional(error)),
        ])
    }

}

/// The JSON of schedules (`worker schedule ... --json`).
public enum ScheduleJSON {
    public static func json(_ schedule: Schedule) -> JSON {
        let d = schedule.definition
        return .object([
            ("name", .string(d.name)), ("handler", .string(d.handler)), ("cron", .string(d.cron)),
            ("timezone", .string(d.timeZone)), ("payload", .raw(d.payload)), ("queue", .string(d.queue)),
            ("priority", .int(Int64(d.priority))), ("missed", .string(d.missed.rawValue)),
            ("catch_up_window_seconds", .int(d.catchUpWindow.components.seconds)), ("no_overlap", .bool(d.noOverlap)),
            ("paused", .bool(schedule.pausedAt != nil)), ("paused_at", time(schedule.pausedAt)),
            ("created_at", time(schedule.createdAt)), ("updated_at", time(schedule.updatedAt)),
            ("last_tick", time(schedule.lastTick)), ("last_job", .optional(schedule.lastJob)),
            ("next_tick", time(schedule.nextTick)),
        ])
    }

    public static func json(_ detail: ScheduleDetail) -> JSON {
        guard case .object(var members) = json(detail.schedule) else { return json(detail.schedule) }
        members.append(("totals", .object(ScheduleOutcome.allCases.filter { $0 != .changed }.map {
            ($0.rawValue, .int(Int64(detail.totals[$0] ?? 0)))
        })))
        members.append(("events", .array(detail.recent.map(json))))
        return .object(members)
    }

    public static func json(_ event: ScheduleEvent) -> JSON {
        .object([
            ("id", .int(event.id)), ("at", time(event.at)), ("outcome", .string(event.outcome.rawValue)),
            ("tick", time(event.tick)), ("last_tick", time(event.lastTick)), ("count", .int(Int64(event.count))),
            ("job_id", .optional(event.jobID)), ("worker", .optional(event.workerID)), ("pid", .int(Int64(event.pid))),
            ("reason", .string(event.reason)),
        ])
    }

    static func time(_ micros: Micros?) -> JSON { micros.map { .string(iso8601($0)) } ?? .null }
}

/// The JSON of queues (`worker queue ... --json`).
public enum QueueJSON {
    public static func json(_ info: QueueInfo) -> JSON {
        guard case .object(let members) = json(info.settings) else { return .null }
        return .object(members + [
            ("waiting", .int(Int64(info.waiting))), ("running", .int(Int64(info.running))),
            ("scheduled", .int(Int64(info.scheduled))), ("interrupted", .int(Int64(info.interrupted))),
        ])
    }

    /// A queue's settings: absent ones are null.
    public static func json(_ settings: QueueSettings) -> JSON {
        .object([
            ("name", .string(settings.name)),
            ("paused", .bool(settings.pausedAt != nil)),
            ("paused_at", settings.pausedAt.map { .string(iso8601($0)) } ?? .null),
            ("concurrency", .optional(settings.concurrency.map(Int64.init))),
            ("rate_limit", .optional(settings.rate.map { Int64($0.limit) })),
            ("rate_window_seconds", settings.rate.map { .raw(String(format: "%.3f", Double($0.window.journalMilliseconds) / 1000)) } ?? .null),
            ("per_key_concurrency", .optional(settings.perKeyConcurrency.map(Int64.init))),
            ("timeout_seconds", settings.timeout.map { .raw(String(format: "%.3f", Double($0.journalMilliseconds) / 1000)) } ?? .null),
            ("updated_at", settings.updatedAt.map { .string(iso8601($0)) } ?? .null),
        ])
    }
}

/// The jobs a bulk change skipped, by reason, as `worker retry|cancel` and the dashboard report them.
public enum BulkSkips {
    /// `0 skipped`, or `3 skipped (1 completed, 2 running)`.
    public static func text(_ skipped: [String: Int]) -> String {
        let total = skipped.values.reduce(0, +)
        guard total > 0 else { return "0 skipped" }
        return "\(total) skipped (\(skipped.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")))"
    }

    /// The members `skipped` (the total) and `skipped_by_reason`.
    public static func json(_ skipped: [String: Int]) -> [(String, JSON)] {
        [
            ("skipped", .int(Int64(skipped.values.reduce(0, +)))),
            ("skipped_by_reason", .object(skipped.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) })),
        ]
    }
}
