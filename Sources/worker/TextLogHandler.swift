import Foundation
import WorkerStore
import Logging

/// Text log lines (`--log-format text`, the default) in the shape log collectors parse: the time in UTC with
/// milliseconds, the level, the message, then the metadata as `key=value` pairs (logfmt), values with a space,
/// a quote or an `=` in double quotes. Written through `TextLogStream`, which escapes control characters.
struct TextLogHandler: LineLogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    func log(event: LogEvent) {
        var line = "\(Self.timestamp()) \(event.level.rawValue) \(event.message)"
        for (key, value) in lineMetadata(event) { line += " \(key)=\(Self.logfmt(value))" }
        var stream = TextLogStream()
        stream.write(line)
    }

    /// Now, as `2026-12-06T03:22:26.123Z`.
    static func timestamp() -> String {
        let micros = iso8601(Int64(Date().timeIntervalSince1970 * 1_000_000))  // ...:26.123456Z
        return String(micros.dropLast(4)) + "Z"
    }

    /// `value` as a logfmt value: bare when it can be, else quoted with `"` and `\` escaped.
    static func logfmt(_ value: String) -> String {
        guard value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
