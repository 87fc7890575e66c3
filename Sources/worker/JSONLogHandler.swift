import Foundation
import WorkerStore
import Logging

/// One JSON object per log line on standard error (`--log-format json`), for log shippers: `time` (UTC, with
/// microseconds), `level`, `label`, `message`, then the metadata; a value that is a whole number (a job id, a
/// count, a pid) is a JSON number.
struct JSONLogHandler: LineLogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    func log(event: LogEvent) {
        var members: [(String, JSON)] = [
            ("time", .string(iso8601(Int64(Date().timeIntervalSince1970 * 1_000_000)))),
            ("level", .string(event.level.rawValue)),
            ("label", .string(label)),
            ("message", .string("\(event.message)")),
        ]
        for (key, value) in lineMetadata(event) { members.append((key, Self.json(value))) }
        FileHandle.standardError.write(Data((JSON.object(members).text + "\n").utf8))
    }
}

extension JSONLogHandler {
    /// A whole number (no leading zero, at most 18 digits: it fits in 64 bits) as a number, anything else as a
    /// string.
    static func json(_ value: String) -> JSON {
        let digits = value.hasPrefix("-") ? value.dropFirst() : Substring(value)
        guard (1...18).contains(digits.count), digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              digits.first != "0" || digits.count == 1, let number = Int64(value) else { return .string(value) }
        return .int(number)
    }
}

/// How log lines look.
enum LogFormat: String, CaseIterable {
    case text, json
}
