import Foundation
import WorkerStore

/// Buffered standard output: one write per 64 KiB, flushed before exit.
enum Output {
    nonisolated(unsafe) private static var buffer: [UInt8] = []  // only the main command task writes here

    /// Writes `text` and a line break. Control characters in it are escaped (`ControlEscaping`): whatever data
    /// a line quotes, it stays one line and cannot drive the terminal. JSON lines have none left to escape.
    /// `worker: note: TEXT` on standard error (after what standard output holds so far).
    static func note(_ text: String) {
        flush()
        FileHandle.standardError.write(Data("worker: note: \(ControlEscaping.escape(text))\n".utf8))
    }

    /// `worker: warning: TEXT` on standard error (after what standard output holds so far).
    static func warning(_ text: String) {
        flush()
        FileHandle.standardError.write(Data("worker: warning: \(ControlEscaping.escape(text))\n".utf8))
    }

    static func line(_ text: String) {
        buffer.append(contentsOf: ControlEscaping.escape(text).utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 16 { flush() }
    }

    static func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDOUT_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    break
                }
                offset += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// A JSON value written compactly with its keys in the given order. `raw` embeds JSON text that is known valid.
indirect enum JSON {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case null
    case raw(String)
    case array([JSON])
    case object([(String, JSON)])

    static func optional(_ value: String?) -> JSON { value.map(JSON.string) ?? .null }
    static func optional(_ value: Int64?) -> JSON { value.map(JSON.int) ?? .null }

    var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .string(let value): JSON.quote(value, into: &out)
        case .int(let value): out += String(value)
        case .bool(let value): out += value ? "true" : "false"
        case .null: out += "null"
        case .raw(let text): JSON.oneLine(text, into: &out)
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out += "," }
                JSON.quote(key, into: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }

    static func quote(_ value: String, into out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where ControlEscaping.needsEscape(scalar): out += unicodeEscape(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// Valid JSON text as one line with no raw control character, meaning the same: line breaks outside strings
    /// (whitespace there) become spaces; inside strings, characters `ControlEscaping` escapes become `\uXXXX`.
    static func oneLine(_ text: String, into out: inout String) {
        guard text.unicodeScalars.contains(where: ControlEscaping.needsEscape) else {
            out += text
            return
        }
        var strings = JSONStringTracker()
        for scalar in text.unicodeScalars {
            let inString = strings.isInString(scalar.value)
            if ControlEscaping.needsEscape(scalar) {
                // Outside strings only whitespace (TAB, LF, CR) can be there in valid JSON: a space means the same.
                out += inString ? unicodeEscape(scalar) : " "
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }

    private static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

/// Left-aligned columns for terminal tables.
func table(_ header: [String], _ rows: [[String]]) -> [String] {
    let rows = rows.map { $0.map(ControlEscaping.escape) }  // widths of what is shown
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() where index < widths.count {
            widths[index] = max(widths[index], cell.count)
        }
    }
    func format(_ cells: [String]) -> String {
        cells.enumerated().map { index, cell in
            index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
    return [format(header)] + rows.map(format)
}
