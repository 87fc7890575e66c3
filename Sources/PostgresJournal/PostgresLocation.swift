import Foundation
import WorkerStore

/// Where a PostgreSQL journal is: a `postgres://` or `postgresql://` URL, parsed.
///
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-full][&connect_timeout=S]`.
/// The password may instead come from `$PGPASSWORD`, the connect timeout from `$PGCONNECT_TIMEOUT` (libpq's names and
/// meanings, except that the timeout must be a positive number of seconds). Percent-escapes are decoded in the user,
/// password and database.
public struct PostgresLocation: Sendable, Equatable {
    /// How the connection is encrypted, with libpq's meanings.
    public enum TLSMode: String, Sendable, CaseIterable {
        /// Never encrypt.
        case disable
        /// Encrypt when the server offers it, without checking its certificate (libpq's default).
        case prefer
        /// Encrypt or fail, without checking the certificate.
        case require
        /// Encrypt, and check the certificate's chain and that it names the host.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode
    /// How long to wait for the server to accept a connection, when the URL or `$PGCONNECT_TIMEOUT` says;
    /// otherwise `PostgresJournalOptions.connectTimeout` holds.
    public var connectTimeout: Duration?

    public init(
        host: String, port: Int = 5432, user: String, password: String? = nil, database: String, tls: TLSMode = .prefer,
        connectTimeout: Duration? = nil
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.connectTimeout = connectTimeout
    }

    /// Whether `text` names a PostgreSQL journal (rather than a SQLite file).
    public static func isPostgresURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// Parses `url`; the password falls back to `environment["PGPASSWORD"]`. A malformed URL is an
    /// `invalidArgument` error (exit 64) that says which part is wrong.
    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let shown = Self.redacted(url)
        func bad(_ what: String) -> JournalError {
            JournalError(.invalidArgument, "the database URL \(shown) \(what): write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require|verify-full]")
        }
        guard Self.isPostgresURL(url), let components = URLComponents(string: url) else { throw bad("is not a valid URL") }
        guard let host = components.host, !host.isEmpty else { throw bad("names no host") }
        guard let user = components.user, !user.isEmpty else { throw bad("names no user") }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        guard !path.isEmpty, !path.contains("/") else { throw bad("names no database (or more than one path segment)") }
        if let port = components.port, !(1...65535).contains(port) { throw bad("has port \(port), outside 1-65535") }
        var tls = TLSMode.prefer
        var timeout: Duration?
        func seconds(_ text: String?, _ name: String) throws -> Duration? {
            guard let text, !text.isEmpty else { return nil }
            guard let value = Int(text), (1...3600).contains(value) else {
                throw JournalError(.invalidArgument, "\(name) is '\(text)': give the seconds to wait for the server to accept a connection, 1-3600")
            }
            return .seconds(value)
        }
        timeout = try seconds(environment["PGCONNECT_TIMEOUT"], "PGCONNECT_TIMEOUT")
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                    throw bad("has sslmode=\(item.value ?? ""), which is not disable, prefer, require or verify-full")
                }
                tls = mode
            case "connect_timeout":
                timeout = try seconds(item.value ?? "", "connect_timeout in the database URL \(shown)") ?? timeout
            case "application_name":
                continue  // libpq parameters with no meaning here; accepted so that an application's URL works
            default:
                throw bad("has an unknown parameter '\(item.name)'")
            }
        }
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = components.port ?? 5432
        self.user = components.user.flatMap { $0.removingPercentEncoding } ?? user
        self.password = components.password?.removingPercentEncoding ?? environment["PGPASSWORD"].flatMap { $0.isEmpty ? nil : $0 }
        self.database = path.removingPercentEncoding ?? path
        self.tls = tls
        self.connectTimeout = timeout
    }

    /// The URL without its password, for messages and logs.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(user)@\(shownHost):\(port)/\(database)" + (tls == .prefer ? "" : "?sslmode=\(tls.rawValue)")
    }

    /// `host:port`, as error messages name the server.
    public var endpoint: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// `url` with any password replaced by `***`.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? "the given URL"
    }
}
