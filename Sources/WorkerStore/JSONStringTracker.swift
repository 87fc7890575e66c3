/// Follows JSON text one character at a time and tells whether each is part of a string literal (its quotes
/// included), so that a bracket or a line break inside a string is told apart from the text's structure.
public struct JSONStringTracker: Sendable {
    private var inString = false
    private var escaped = false

    /// A tracker at the start of JSON text.
    public init() {}

    /// Whether the next character, given by its code (a UTF-8 byte or a Unicode scalar value: quotes and
    /// backslashes are ASCII either way), is part of a string literal.
    public mutating func isInString(_ code: UInt32) -> Bool {
        if inString {
            if escaped {
                escaped = false
            } else if code == 0x5C {  // backslash
                escaped = true
            } else if code == 0x22 {  // closing quote
                inString = false
            }
            return true
        }
        if code == 0x22 {
            inString = true
            return true
        }
        return false
    }
}
