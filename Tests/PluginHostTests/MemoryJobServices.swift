import Foundation
import PluginHost
import Synchronization

/// Job services kept in memory, with no store behind them: every call is recorded, a step is answered from what
/// was committed (or completed before the job started), and with `refusal` set every call is refused with it.
final class MemoryJobServices: JobServices {
    struct Records {
        /// The last checkpoint of each job.
        var checkpoints: [Int64: Data] = [:]
        /// The completed steps of each job, with their results.
        var completed: [Int64: [String: Data]] = [:]
        /// The error of each failed step of each job (until it completes).
        var failed: [Int64: [String: String]] = [:]
        /// The calls in the order they came, e.g. "begin 7 line-1".
        var calls: [String] = []
    }

    private let records: Mutex<Records>
    private let refusal: JobServiceError?

    init(completed: [Int64: [String: Data]] = [:], refusal: JobServiceError? = nil) {
        records = Mutex(Records(completed: completed))
        self.refusal = refusal
    }

    /// What was recorded so far.
    var recorded: Records { records.withLock { $0 } }

    func checkpoint(job: Int64, data: Data) throws(JobServiceError) {
        try record("checkpoint \(job)") { $0.checkpoints[job] = data }
    }

    func beginStep(job: Int64, name: String) throws(JobServiceError) -> Data? {
        try record("begin \(job) \(name)") { $0.completed[job]?[name] }
    }

    func commitStep(job: Int64, name: String, result: Data) throws(JobServiceError) {
        try record("commit \(job) \(name)") { records in
            records.completed[job, default: [:]][name] = result
            records.failed[job]?[name] = nil
        }
    }

    func failStep(job: Int64, name: String, error: String) throws(JobServiceError) {
        try record("fail \(job) \(name)") { $0.failed[job, default: [:]][name] = error }
    }

    private func record<T>(_ call: String, _ body: (inout Records) -> T) throws(JobServiceError) -> T {
        let answer = records.withLock { records in
            records.calls.append(call)
            return refusal == nil ? body(&records) : nil
        }
        if let refusal { throw refusal }
        return answer!
    }
}
