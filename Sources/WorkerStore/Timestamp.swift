import Foundation

/// Microseconds since the Unix epoch (UTC): the unit of every time column in the journal.
public typealias Micros = Int64

extension Date {
    /// This date in journal units.
    public var micros: Micros { Micros((timeIntervalSince1970 * 1_000_000).rounded()) }

    /// The date of a journal time.
    public init(micros: Micros) {
        self.init(timeIntervalSince1970: Double(micros) / 1_000_000)
    }
}

/// Where the journal reads the time from; tests inject a manual one so nothing has to sleep.
public struct WallClock: Sendable {
    /// The current time in journal units.
    public let now: @Sendable () -> Micros

    /// A clock reading `now`.
    public init(now: @escaping @Sendable () -> Micros) {
        self.now = now
    }

    /// The system's real-time clock.
    public static let system = WallClock {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Micros(ts.tv_sec) * 1_000_000 + Micros(ts.tv_nsec) / 1_000
    }
}

/// Formats a journal time as ISO 8601 in UTC with microseconds, e.g. `2026-11-22T03:09:54.123456Z`.
public func iso8601(_ micros: Micros) -> String {
    var seconds = time_t(micros / 1_000_000)
    var fraction = micros % 1_000_000
    if fraction < 0 {
        seconds -= 1
        fraction += 1_000_000
    }
    var parts = tm()
    gmtime_r(&seconds, &parts)
    return String(
        format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
        Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
        Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(fraction))
}
