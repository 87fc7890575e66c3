/// Why a cron expression was refused: an opaque code to branch on and a one-line message naming the field, the
/// value and what is allowed, e.g. `cron expression "61 * * * *": minute 61 is outside 0-59`.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem this is. Compare with the static members; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Sendable {
            case fieldCount, emptyField, invalidCharacter, invalidValue, outOfRange, invalidStep, reversedRange,
                 unknownName, neverFires
        }
        let base: Base

        /// Not five or six fields (or an `@name` followed by fields).
        public static let fieldCount = Code(base: .fieldCount)
        /// The expression, or an item of a list, is empty.
        public static let emptyField = Code(base: .emptyField)
        /// A character cron does not use (only digits, letters of names, `*`, `,`, `-` and `/` are).
        public static let invalidCharacter = Code(base: .invalidCharacter)
        /// A value that is neither a number nor a name the field knows.
        public static let invalidValue = Code(base: .invalidValue)
        /// A number outside the field's range.
        public static let outOfRange = Code(base: .outOfRange)
        /// A step that is not a whole number from 1 to the field's number of values.
        public static let invalidStep = Code(base: .invalidStep)
        /// A range whose first value is greater than its last.
        public static let reversedRange = Code(base: .reversedRange)
        /// An `@name` that is not one of `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`,
        /// `@hourly`.
        public static let unknownName = Code(base: .unknownName)
        /// Valid fields that no calendar date satisfies (such as February 30): the schedule would never fire.
        public static let neverFires = Code(base: .neverFires)

        /// The code's name, for logs.
        public var description: String { base.rawValue }
    }

    /// What kind of problem this is.
    public let code: Code
    /// The expression as given (trimmed).
    public let expression: String
    /// The field at fault (`second`, `minute`, `hour`, `day-of-month`, `month`, `day-of-week`), when one is.
    public let field: String?
    /// The problem and what is allowed, without the expression: `minute 61 is outside 0-59`.
    public let detail: String

    init(_ code: Code, _ expression: String, field: String? = nil, _ detail: String) {
        self.code = code
        self.expression = expression
        self.field = field
        self.detail = detail
    }

    /// One line: the expression and the problem. Control characters of the input are escaped and a very long
    /// input is shortened, so that the message stays one readable line in a terminal or a log.
    public var description: String {
        "cron expression \"\(shown(expression))\": \(detail)"
    }
}

/// `text` safe for a one-line message: quotes and control characters escaped, at most 100 characters kept.
func shown(_ text: some StringProtocol) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        if out.unicodeScalars.count >= 100 {
            out += "…"
            break
        }
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        default:
            if scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format
                || scalar == "\u{2028}" || scalar == "\u{2029}"
            {
                out += scalar.escaped(asASCII: true)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out
}
