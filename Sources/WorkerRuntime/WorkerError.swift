/// An error of the worker runtime, with the exit status the CLI maps it to.
public struct WorkerError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure.
    public enum Kind: Sendable {
        /// Journal or file I/O (exit 74).
        case io
        /// A bug or an impossible state (exit 70).
        case internalError
        /// A setting the operator must change (exit 78).
        case config
        /// Worth retrying later, e.g. a port still held by a process that is exiting (exit 75).
        case temporary
    }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
