import Foundation

/// A job as the host hands it to a plugin: what the ABI's `wp_job` carries.
public struct HostedJob: Sendable, Equatable {
    public var id: Int64
    /// The handler that runs it, which names the plugin.
    public var handler: String
    /// Which attempt this run is, from 1.
    public var attempt: Int
    /// The payload, JSON text.
    public var payload: String
    /// The last checkpoint the handler saved, to resume from; nil on a fresh start.
    public var checkpoint: Data?

    /// A job to run.
    public init(id: Int64, handler: String, attempt: Int, payload: String, checkpoint: Data? = nil) {
        self.id = id
        self.handler = handler
        self.attempt = attempt
        self.payload = payload
        self.checkpoint = checkpoint
    }
}
