/// An error of the worker runtime, with the exit status the CLI maps it to.
public struct WorkerError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure.
    public enum Kind: Sendable { case io, internalError }
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
