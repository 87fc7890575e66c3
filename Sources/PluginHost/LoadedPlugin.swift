import WorkerPluginABI

/// A plugin that passed every check and was created. Never unloaded: Swift libraries cannot be safely closed.
public final class LoadedPlugin: @unchecked Sendable {  // immutable; the pointers live as long as the process
    /// The file it was loaded from.
    public let path: String
    /// SHA-256 of that file, hex.
    public let sha256: String
    public let name: String
    public let version: String
    /// The handler names it provides.
    public let handlers: [String]
    /// The descriptor's toolchain fingerprint.
    public let toolchain: String
    let descriptor: UnsafePointer<wp_descriptor>
    let instance: UnsafeMutableRawPointer?

    init(path: String, sha256: String, descriptor: UnsafePointer<wp_descriptor>, instance: UnsafeMutableRawPointer?,
         name: String, version: String, handlers: [String], toolchain: String) {
        self.path = path
        self.sha256 = sha256
        self.descriptor = descriptor
        self.instance = instance
        self.name = name
        self.version = version
        self.handlers = handlers
        self.toolchain = toolchain
    }

    /// What the runtime records on each job this plugin runs.
    public var identity: PluginIdentity { PluginIdentity(name: name, version: version, sha256: sha256) }
}

/// Which plugin runs a job: what the runtime records on each job the plugin runs.
public struct PluginIdentity: Sendable, Equatable {
    /// The plugin's name.
    public var name: String
    /// The plugin's version.
    public var version: String
    /// SHA-256 of the plugin file, in hex.
    public var sha256: String

    /// An identity.
    public init(name: String, version: String, sha256: String) {
        self.name = name
        self.version = version
        self.sha256 = sha256
    }
}

