import Foundation

/// Standard error for text log lines (`--log-format text`): each line `TextLogHandler` writes, with control
/// characters escaped (`ControlEscaping`), so that a message quoting a payload, an error a plugin
/// threw or a handler name stays one line and cannot forge another ("job 99 completed") or drive a terminal.
struct TextLogStream: TextOutputStream, Sendable {
    mutating func write(_ string: String) {
        // One whole line per call, with or without its line break.
        let body = string.hasSuffix("\n") ? String(string.dropLast()) : string
        FileHandle.standardError.write(Data((ControlEscaping.escape(body) + "\n").utf8))
    }
}
