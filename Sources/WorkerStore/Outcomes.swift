/// How a run of a job ended, as its worker reports it.
public enum JobOutcome: Sendable, Equatable {
    /// The handler finished.
    case completed
    /// The handler threw. Retryable failures go to `retrying` while attempts remain, otherwise to `dead`.
    case failed(error: String, retryable: Bool = true)
    /// Stopped by a drain (deadline, signal). Gives the attempt back: it resumes with its checkpoint.
    case interrupted(reason: String)
    /// Stopped because an operator cancelled it.
    case cancelled(reason: String)
}

/// What `cancel` did.
public enum CancelResult: Sendable, Equatable {
    /// The job was waiting and is now `cancelled`.
    case cancelled(Job)
    /// The job is running: its worker was asked to stop it (it stays `running` until the worker does).
    case requested(Job)
    /// It was cancelled already; nothing changed.
    case alreadyCancelled(Job)
}
