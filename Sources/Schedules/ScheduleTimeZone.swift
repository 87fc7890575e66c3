import Foundation

/// The time zone whose wall clock a schedule follows, by IANA name (`Europe/Berlin`, `America/New_York`, `UTC`).
///
/// Only `Area/Location` names of the system's tzdata (and `UTC`, `GMT`) are accepted, exactly as written there:
/// `TimeZone(identifier:)` also takes abbreviations such as `EST` or `PST` and offsets such as `GMT+2`, which have no
/// daylight-saving rules or are ambiguous, and a schedule's zone must mean the same on every worker.
public enum ScheduleTimeZone {
    /// The zone named `name`; throws a one-line error naming it (and the right spelling when only the case differs).
    public static func named(_ name: String) throws(ScheduleTimeZoneError) -> TimeZone {
        if name == "UTC" || name == "GMT", let zone = TimeZone(identifier: "UTC") { return zone }
        let known = TimeZone.knownTimeZoneIdentifiers
        // `Area/Location` names outside the known list are still tzdata's own (`Etc/GMT-2`, `Europe/Kiev`) when the
        // zone keeps the name; bare abbreviations are not.
        if let zone = TimeZone(identifier: name), zone.identifier == name, known.contains(name) || name.contains("/") {
            return zone
        }
        let folded = name.lowercased()
        throw ScheduleTimeZoneError(
            name: name, suggestion: (known + ["UTC"]).first { $0.lowercased() == folded }
        )
    }
}

/// A time zone name the system's tzdata does not know.
public struct ScheduleTimeZoneError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The name as given.
    public let name: String
    /// The known name that differs only in case, if any.
    public let suggestion: String?

    /// One line: the name and the fix.
    public var description: String {
        let fix = suggestion.map { "did you mean \($0)?" }
            ?? "use an IANA name such as Europe/Berlin, America/New_York or UTC (the names under /usr/share/zoneinfo)"
        return "time zone \"\(shown(name))\" is unknown; \(fix)"
    }
}
