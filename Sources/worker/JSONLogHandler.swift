import Foundation
import Journal
import Logging

/// One JSON object per log line on standard error (`--log-format json`), for log shippers.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var members: [(String, JSON)] = [
            ("time", .string(iso8601(Int64(Date().timeIntervalSince1970 * 1_000_000)))),
            ("level", .string(event.level.rawValue)),
            ("label", .string(label)),
            ("message", .string("\(event.message)")),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            members.append((key, .string("\(value)")))
        }
        FileHandle.standardError.write(Data((JSON.object(members).text + "\n").utf8))
    }
}

/// How log lines look.
enum LogFormat: String, CaseIterable {
    case text, json
}
