import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import WorkerStore

/// Building connections to the server of a `PostgresLocation`, and opening the dedicated ones.
enum Connections {
    /// The TLS configuration for `mode`, with libpq's meanings: `require` encrypts without checking the
    /// certificate, `verify-full` checks its chain against the system's roots and that it names the host.
    static func tlsConfiguration(_ mode: PostgresLocation.TLSMode) -> TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch mode {
        case .disable: return nil
        case .prefer, .require: tls.certificateVerification = .none
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        return tls
    }

    /// The configuration of a pool of `size` connections (`options.poolSize` when nil), with `parameters` for
    /// their sessions.
    static func client(
        _ location: PostgresLocation, _ options: PostgresJournalOptions, size: Int? = nil, parameters: [(String, String)] = []
    ) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch location.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(tlsConfiguration(.prefer)!)
        case .require, .verifyFull: tls = .require(tlsConfiguration(location.tls)!)
        }
        var configuration = PostgresClient.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: tls)
        configuration.options.connectTimeout = location.connectTimeout ?? options.connectTimeout
        configuration.options.maximumConnections = max(1, size ?? options.poolSize)
        configuration.options.minimumConnections = 0
        configuration.options.additionalStartupParameters = options.startupParameters + parameters
        if isIPAddress(location.host) { configuration.options.tlsServerName = nil }
        return configuration
    }

    /// Opens one connection of its own (not from the pool) with `parameters` for its session: the preflight of
    /// every command, and a worker's lock session. Fails fast with the precise cause, as a `JournalError`.
    static func connect(
        _ location: PostgresLocation, _ options: PostgresJournalOptions, parameters: [(String, String)] = [], id: Int = 0
    ) async throws -> PostgresConnection {
        let tls: PostgresConnection.Configuration.TLS
        do {
            switch location.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: tlsConfiguration(.prefer)!))
            case .require, .verifyFull: tls = .require(try NIOSSLContext(configuration: tlsConfiguration(location.tls)!))
            }
        } catch {
            throw JournalError(.misconfigured, "cannot set up TLS for \(location.endpoint): \(error)")
        }
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: tls)
        let seconds = (location.connectTimeout ?? options.connectTimeout).components.seconds
        configuration.options.connectTimeout = .seconds(max(1, seconds))
        configuration.options.additionalStartupParameters = options.startupParameters + parameters
        do {
            return try await PostgresConnection.connect(configuration: configuration, id: id, logger: options.logger)
        } catch {
            throw PostgresErrors.map(error, location)
        }
    }

    private static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}

extension PostgresConnection {
    /// Closes the connection at once, without waiting for queued statements.
    func closeNow() async {
        try? await (close() as EventLoopFuture<Void>).get()
    }
}
