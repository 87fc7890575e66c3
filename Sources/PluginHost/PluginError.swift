/// A plugin that was refused: the file and one line saying what is wrong with it.
public struct PluginError: Error, CustomStringConvertible, Sendable {
    /// Why a plugin was refused, for the exit status: a file that is not there is missing input (66), anything
    /// else a configuration error (78).
    public enum Kind: Sendable {
        /// The file (or a directory on its path) does not exist.
        case missing
        /// The file exists but may not be loaded, or failed to load.
        case refused
    }

    /// The plugin file as given.
    public let path: String
    /// What is wrong, and where it helps, how to fix it.
    public let reason: String
    /// Missing or refused.
    public let kind: Kind

    /// A refusal of `path`.
    public init(path: String, reason: String, kind: Kind = .refused) {
        self.path = path
        self.reason = reason
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .missing: "plugin \(path) not found: \(reason)"
        case .refused: "plugin \(path) rejected: \(reason)"
        }
    }
}
