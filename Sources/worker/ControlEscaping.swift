import WorkerStore

/// Text for people (terminals, text logs) with every character that could end a line, move the cursor or
/// switch a terminal's mode written as a visible escape, so that a payload, a key, a handler name or an error a
/// plugin threw cannot forge a log line or clear an operator's screen. JSON output escapes the same characters
/// its own way (`JSON.quote`), so that escaping a line of JSON here leaves it unchanged.
enum ControlEscaping {
    /// Whether `scalar` is written escaped (`JSON.needsEscape`).
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool { JSON.needsEscape(scalar) }

    /// `text` with each character of `needsEscape` as `\n`, `\r`, `\t` or `\u{1B}`; unchanged when it has none.
    static func escape(_ text: String) -> String {
        // Fast path for the usual line: every escaped character starts with a byte below 0x20, 0x7F, 0xC2
        // (U+0080-U+009F) or 0xE2 (U+2028-U+2069).
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 == 0xC2 || $0 == 0xE2 }),
              text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where needsEscape(scalar): out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
