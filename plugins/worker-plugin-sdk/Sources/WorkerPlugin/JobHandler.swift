/// A job handler: one per handler name a plugin provides.
///
/// `run` is called once per attempt, on a task of its own. Return to complete the job; throw to fail it (it is
/// retried while attempts remain); throw `PermanentFailure` to make it dead at once. Cancellation (a drain's
/// deadline, an operator's cancel) arrives as Swift task cancellation: check it between units of work.
public protocol JobHandler: Sendable {
    /// The handler name jobs are enqueued with, e.g. `sleep`.
    static var name: String { get }
    /// Creates the handler; called once per job.
    init()
    /// Does the work of one attempt.
    func run(_ context: JobContext) async throws
}

/// Thrown by a handler for a failure that no retry can fix: the job goes `dead` at once.
public struct PermanentFailure: Error, CustomStringConvertible, Sendable {
    /// Why, shown in the job's `last_error`.
    public let message: String

    /// A permanent failure with its reason.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// A host service refused a call: the job was taken from this run (`notHeld`) or the journal failed.
public struct HostServiceError: Error, CustomStringConvertible, Sendable {
    /// The ABI status code (`WP_NOT_HELD`, `WP_ERROR`, ...).
    public let status: Int32
    /// What was being done.
    public let operation: String

    public var description: String {
        status == -2 ? "\(operation): the job is no longer held by this worker" : "\(operation) failed (status \(status))"
    }
}
