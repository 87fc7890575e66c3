import Hummingbird
import NIOCore

/// The request context of the admin endpoint: Hummingbird's basics and the client's address, which every action's
/// journal event names ("dashboard (client 10.0.0.7)").
public struct AdminContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// Forms and API bodies are small: a login, a CSRF token, a filter.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The client's IP address as events record it (`?` when unknown, e.g. a Unix socket).
    var clientAddress: String { remoteAddress?.ipAddress ?? "?" }
}
