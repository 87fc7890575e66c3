import Foundation
import WorkerStore

extension Job {
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

    /// The checkpoint for people: text when it is text, else its size.
    var checkpointText: String {
        guard let checkpoint else { return "-" }
        return String(data: checkpoint, encoding: .utf8) ?? "\(checkpoint.count) bytes"
    }
}

extension StepRecord {
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
