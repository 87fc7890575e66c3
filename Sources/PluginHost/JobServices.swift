import Foundation

/// What the ABI's host services record for a job, its checkpoints and steps, done by whoever keeps the jobs'
/// records: the runtime implements it over its store; the host only calls it. Each call blocks the plugin's thread
/// until the record is durable. The implementation knows the worker the jobs are held by.
public protocol JobServices: Sendable {
    /// Saves `data` as the job's checkpoint, in place of the last one.
    func checkpoint(job: Int64, data: Data) throws(JobServiceError)

    /// Begins the step `name` of the job: the result an earlier attempt recorded when it completed the step (the
    /// step must not run again), or nil once the step is recorded as begun.
    func beginStep(job: Int64, name: String) throws(JobServiceError) -> Data?

    /// Records the result of the step `name`: from now on the step is answered with it.
    func commitStep(job: Int64, name: String, result: Data) throws(JobServiceError)

    /// Records that this attempt's run of the step `name` failed with `error`: the step stays not completed (the
    /// next attempt runs it again) and the error is kept until then. Refused unless this attempt began the step
    /// and did not complete it.
    func failStep(job: Int64, name: String, error: String) throws(JobServiceError)
}

/// Why a job service was refused, which decides the status the plugin gets.
public enum JobServiceError: Error, Equatable, CustomStringConvertible {
    /// The job is no longer this worker's (recovered, cancelled, given back): the plugin gets `WP_NOT_HELD`.
    case notHeld
    /// The record could not be written, for the reason given (the host logs it): the plugin gets `WP_ERROR`.
    case failed(String)

    public var description: String {
        switch self {
        case .notHeld: "the job is no longer held by this worker"
        case .failed(let reason): reason
        }
    }
}
