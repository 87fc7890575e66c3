/// The states of a job, exactly as the contract names them.
public enum JobState: String, Sendable, CaseIterable, Codable {
    /// Waiting for its `run_at` in the future.
    case scheduled
    /// Ready to be claimed.
    case queued
    /// Held by a live worker.
    case running
    /// Failed, waiting for its backoff to pass.
    case retrying
    /// Stopped by a drain or found orphaned; resumes before new work.
    case interrupted
    /// Finished successfully. Final.
    case completed
    /// Attempts exhausted, or a poison job. Can be retried by an operator.
    case dead
    /// Cancelled by an operator. Can be retried by an operator.
    case cancelled

    /// States a job never leaves by itself: only an operator's retry moves `dead` and `cancelled` on.
    public var isFinished: Bool {
        switch self {
        case .completed, .dead, .cancelled: true
        default: false
        }
    }

    /// The transitions the journal allows; everything else is refused as illegal.
    static let legalTransitions: [JobState?: Set<JobState>] = [
        nil: [.scheduled, .queued],
        .scheduled: [.queued, .cancelled],
        .queued: [.running, .cancelled],
        .retrying: [.running, .queued, .cancelled],
        .interrupted: [.running, .dead, .cancelled],
        .running: [.completed, .retrying, .dead, .interrupted, .cancelled],
        .dead: [.queued],
        .cancelled: [.queued],
        .completed: [],
    ]

    /// Whether a job may move from `from` (nil: not yet created) to `to`.
    public static func canTransition(from: JobState?, to: JobState) -> Bool {
        legalTransitions[from]?.contains(to) ?? false
    }
}

extension JobState {
    /// States `retry` accepts: finished-but-not-completed jobs, and retrying jobs (to skip their backoff).
    public static let retryable: Set<JobState> = [.dead, .cancelled, .retrying]
}
