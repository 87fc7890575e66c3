/// A plugin that was refused: the file and one line saying what is wrong with it.
public struct PluginError: Error, CustomStringConvertible, Sendable {
    /// The plugin file as given.
    public let path: String
    /// What is wrong, and where it helps, how to fix it.
    public let reason: String

    /// A refusal of `path`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "plugin \(path) rejected: \(reason)" }
}
