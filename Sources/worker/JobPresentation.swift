import Foundation
import WorkerStore

extension Job {
    /// The job object of the contract's `--json` output.
    var json: JSON {
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
            ("concurrency_key", .optional(concurrencyKey)),
            ("timeout_ms", timeout.map { .int($0.journalMilliseconds) } ?? .null),
            ("effective_timeout_ms", effectiveTimeout.map { .int($0.journalMilliseconds) } ?? .null),
            ("schedule", .optional(schedule)),
        ])
    }

    /// The operator controls' fields of `worker job`, shown only when set.
    var controlText: [(String, String)] {
        var fields: [(String, String)] = []
        if let concurrencyKey { fields.append(("conc. key", concurrencyKey)) }
        if let timeout {
            fields.append(("timeout", "\(Double(timeout.journalMilliseconds) / 1000) s"))
        } else if let queueTimeout {
            fields.append(("timeout", "\(Double(queueTimeout.journalMilliseconds) / 1000) s (the queue's)"))
        }
        if let schedule { fields.append(("schedule", schedule)) }
        return fields
    }

    /// A checkpoint as JSON: embedded as is when it is JSON, else as a UTF-8 string, else as base64.
    static func checkpointJSON(_ data: Data) -> JSON {
        if (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil,
           let text = String(data: data, encoding: .utf8) {
            return .raw(text)
        }
        if let text = String(data: data, encoding: .utf8) { return .string(text) }
        return .object([("base64", .string(data.base64EncodedString()))])
    }

    /// The checkpoint for people: text when it is text, else its size.
    var checkpointText: String {
        guard let checkpoint else { return "-" }
        return String(data: checkpoint, encoding: .utf8) ?? "\(checkpoint.count) bytes"
    }
}

extension JobEvent {
    var json: JSON {
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
    var json: JSON {
        .object([
            ("name", .string(name)), ("attempt", .int(Int64(attempt))),
            ("started_at", .string(iso8601(startedAt))),
            ("completed_at", .optional(completedAt.map(iso8601))),
            ("failed_at", .optional(failedAt.map(iso8601))),
            ("failed_attempt", .optional(failedAttempt.map(Int64.init))),
            ("error", .optional(error)),
        ])
    }

    /// A step for people: completed, failed (with its error), or begun and not completed (in flight, or its worker
    /// died inside it), with the last failure of an earlier attempt when there was one.
    var text: String {
        if let completedAt { return "completed \(iso8601(completedAt)) (attempt \(attempt))" }
        let failure = error ?? "-"
        if let failedAt { return "failed \(iso8601(failedAt)) (attempt \(failedAttempt ?? attempt)): \(failure)" }
        let begun = "begun \(iso8601(startedAt)), not completed (attempt \(attempt))"
        guard let failedAttempt else { return begun }
        return "\(begun); attempt \(failedAttempt) failed: \(failure)"
    }
}
