#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What one client may hold of the admin endpoint, so that slow or idle clients (slowloris) cannot pin its
/// connections or the worker's file descriptors:
/// - `headerTimeout`: a request's headers must arrive whole within this time of their first byte (or of the
///   connection opening); else the connection is closed;
/// - `idleTimeout`: a connection with no request under way is closed after this time (keep-alive);
/// - `maxConnections`: connections open at once; one more evicts the oldest that is not in the middle of a
///   request, or is closed at once when every connection is (accepts never stall).
public struct AdminLimits: Sendable, Equatable {
    /// Time for a request's headers, from their first byte or the connection's opening.
    public var headerTimeout: Duration
    /// Time a connection may stay open between requests.
    public var idleTimeout: Duration
    /// Connections open at once.
    public var maxConnections: Int

    /// Limits given explicitly (tests).
    public init(headerTimeout: Duration, idleTimeout: Duration, maxConnections: Int) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }

    /// The limits `worker run --admin` uses: headers within 10 s, 60 s idle (longer than Prometheus' default
    /// 15 s scrape interval, so a scraper keeps its connection), and at most 256 connections or a quarter of
    /// the open-files limit (RLIMIT_NOFILE) when that is lower, so the journal and the plugins always find
    /// descriptors.
    public static var standard: AdminLimits {
        AdminLimits(headerTimeout: .seconds(10), idleTimeout: .seconds(60), maxConnections: connectionCap(openFilesLimit: openFilesLimit()))
    }

    /// 256, or a quarter of `openFilesLimit` when that is lower (never under 8).
    static func connectionCap(openFilesLimit: Int?) -> Int {
        guard let openFilesLimit else { return 256 }
        return max(8, min(256, openFilesLimit / 4))
    }

    /// The soft RLIMIT_NOFILE; nil when unlimited or unknown.
    private static func openFilesLimit() -> Int? {
        var limit = rlimit()
        #if canImport(Glibc)
        let got = getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        #else
        let got = getrlimit(RLIMIT_NOFILE, &limit)
        #endif
        guard got == 0, limit.rlim_cur != rlim_t.max else { return nil }  // RLIM_INFINITY (all ones; its macro does not import)
        return Int(clamping: limit.rlim_cur)
    }
}
