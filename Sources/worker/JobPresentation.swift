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
            ("run_at", .string(iso8601(runAt))),
            ("created_at", .string(iso8601(createdAt))),
            ("updated_at", .string(iso8601(updatedAt))),
            ("finished_at", .optional(finishedAt.map(iso8601))),
            ("worker_id", .optional(workerID)),
            ("last_error", .optional(lastError)),
            ("cancel_requested_at", .optional(cancelRequestedAt.map(iso8601))),
            ("plugin", plugin.map { .object([("name", .string($0.name)), ("version", .string($0.version)), ("sha256", .string($0.sha256))]) } ?? .null),
        ])
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
