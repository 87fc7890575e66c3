import Foundation

/// A JSON value written compactly with its keys in the given order. `raw` embeds JSON text that is known valid.
public indirect enum JSON: Sendable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    case null
    case raw(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func optional(_ value: String?) -> JSON { value.map(JSON.string) ?? .null }
    public static func optional(_ value: Int64?) -> JSON { value.map(JSON.int) ?? .null }

    /// The compact JSON text.
    public var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    public func write(to out: inout String) {
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

    public static func quote(_ value: String, into out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where JSON.needsEscape(scalar): out += unicodeEscape(scalar)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// Valid JSON text as one line with no raw control character, meaning the same: line breaks outside strings
    /// (whitespace there) become spaces; inside strings, characters `ControlEscaping` escapes become `\uXXXX`.
    public static func oneLine(_ text: String, into out: inout String) {
        guard text.unicodeScalars.contains(where: JSON.needsEscape) else {
            out += text
            return
        }
        var strings = JSONStringTracker()
        for scalar in text.unicodeScalars {
            let inString = strings.isInString(scalar.value)
            if JSON.needsEscape(scalar) {
                // Outside strings only whitespace (TAB, LF, CR) can be there in valid JSON: a space means the same.
                out += inString ? unicodeEscape(scalar) : " "
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }

    /// Whether `scalar` is written escaped: C0 controls (TAB, LF and CR too), DEL, C1 controls, the Unicode line
    /// and paragraph separators, and the bidirectional embeddings, overrides and isolates (which reorder what
    /// follows them on screen). The command line's text output escapes the same characters its own way.
    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    private static func unicodeEscape(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

