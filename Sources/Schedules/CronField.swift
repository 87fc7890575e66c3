/// The values one field of a cron expression allows, as a bit set (bit `v` set when `v` is allowed).
///
/// Sixty-four bits hold every field (seconds and minutes go up to 59), so finding the next allowed value is a
/// shift and a count of trailing zeros instead of a loop.
struct CronField: Sendable, Equatable {
    var bits: UInt64 = 0

    func contains(_ value: Int) -> Bool {
        value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0
    }

    /// The smallest allowed value that is at least `value`, if any.
    func first(atOrAfter value: Int) -> Int? {
        guard value < 64 else { return nil }
        let rest = bits >> UInt64(max(value, 0))
        return rest == 0 ? nil : max(value, 0) + rest.trailingZeroBitCount
    }

    /// How many allowed values are at least `value`.
    func count(atOrAfter value: Int) -> Int {
        guard value < 64 else { return 0 }
        return (bits >> UInt64(max(value, 0))).nonzeroBitCount
    }

    var count: Int { bits.nonzeroBitCount }

    mutating func insert(_ value: Int) { bits |= 1 << UInt64(value) }
}

/// One of the six fields: its name in messages, its range and the names it accepts.
struct CronFieldKind: Sendable {
    let name: String
    let range: ClosedRange<Int>
    /// Three-letter names and their values (month and day-of-week only), upper case.
    let names: [String: Int]

    static let second = CronFieldKind(name: "second", range: 0...59, names: [:])
    static let minute = CronFieldKind(name: "minute", range: 0...59, names: [:])
    static let hour = CronFieldKind(name: "hour", range: 0...23, names: [:])
    static let dayOfMonth = CronFieldKind(name: "day-of-month", range: 1...31, names: [:])
    static let month = CronFieldKind(
        name: "month", range: 1...12,
        names: ["JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
                "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12]
    )
    /// 0 and 7 are both Sunday, as in Vixie cron; 7 is folded into 0 once parsed.
    static let dayOfWeek = CronFieldKind(
        name: "day-of-week", range: 0...7,
        names: ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]
    )

    var isDayOfWeek: Bool { name == "day-of-week" }

    /// What the field accepts, for messages: `0-59`, `1-12 or JAN-DEC`.
    var allowed: String {
        switch name {
        case "month": "1-12 or JAN-DEC"
        case "day-of-week": "0-7 (0 and 7 are Sunday) or SUN-SAT"
        default: "\(range.lowerBound)-\(range.upperBound)"
        }
    }

    /// Parses the field's text: a list of `*`, `a`, `a-b`, each optionally followed by `/step` (`a/step` runs
    /// from `a` to the end of the range).
    func parse(_ text: Substring, in expression: String) throws(CronError) -> CronField {
        func fail(_ code: CronError.Code, _ detail: String) -> CronError {
            CronError(code, expression, field: name, detail)
        }
        if let bad = text.unicodeScalars.first(where: { !Self.isAllowed($0) }) {
            throw fail(.invalidCharacter,
                       "\(name) field \"\(shown(text))\" has the character \"\(shown(String(bad)))\"; "
                           + "use digits, names, *, ranges a-b, steps /n and lists a,b")
        }
        var field = CronField()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else {
                throw fail(.emptyField, "\(name) field \"\(shown(text))\" has an empty list item")
            }
            let parts = item.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count <= 2 else {
                throw fail(.invalidStep, "\(name) item \"\(shown(item))\" has more than one step (/)")
            }
            let base = parts[0]
            let step = try parts.count == 2 ? parseStep(parts[1], item: item, fail: fail) : 1
            var low = range.lowerBound
            // An open end (`*`, `a/n`) stops at Saturday: Sunday is 0, and 7 would make it twice.
            var high = isDayOfWeek ? 6 : range.upperBound
            if base != "*" {
                let ends = base.split(separator: "-", maxSplits: 2, omittingEmptySubsequences: false)
                guard ends.count <= 2 else {
                    throw fail(.invalidValue,
                               "\(name) item \"\(shown(item))\" is not a value or a range a-b; allowed: \(allowed)")
                }
                low = try value(ends[0], item: item, fail: fail)
                if ends.count == 2 {
                    high = try value(ends[1], item: item, fail: fail)
                    guard low <= high else {
                        throw fail(.reversedRange,
                                   "\(name) range \(shown(base)) is reversed; write the smaller value first")
                    }
                } else if parts.count == 1 {
                    high = low
                } else {
                    high = max(high, low)  // `7/2`: Sunday written as 7, beyond the open end.
                }
            }
            for v in stride(from: low, through: high, by: step) {
                field.insert(isDayOfWeek && v == 7 ? 0 : v)
            }
        }
        return field
    }

    private static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "0"..."9", "a"..."z", "A"..."Z", "*", ",", "-", "/": true
        default: false
        }
    }

    private func parseStep(
        _ text: Substring, item: Substring, fail: (CronError.Code, String) -> CronError
    ) throws(CronError) -> Int {
        let width = range.upperBound - range.lowerBound + (isDayOfWeek ? 0 : 1)  // seven days, not eight values
        guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let step = Int(text), step >= 1, step <= width else {
            throw fail(.invalidStep, "\(name) step \"\(shown(text))\" in \"\(shown(item))\" "
                           + "must be a whole number from 1 to \(width)")
        }
        return step
    }

    private func value(
        _ text: Substring, item: Substring, fail: (CronError.Code, String) -> CronError
    ) throws(CronError) -> Int {
        guard !text.isEmpty else {
            throw fail(.invalidValue, "\(name) item \"\(shown(item))\" has a missing value; allowed: \(allowed)")
        }
        if text.allSatisfy(\.isASCIIDigit) {
            guard let number = Int(text), range.contains(number) else {
                throw fail(.outOfRange, "\(name) \(shown(text)) is outside \(allowed)")
            }
            return number
        }
        if let number = names[text.uppercased()] { return number }
        if names.isEmpty {
            throw fail(.invalidValue, "\(name) \"\(shown(text))\" is not a number; allowed: \(allowed)")
        }
        throw fail(.invalidValue, "\(name) \"\(shown(text))\" is not a number or a name; allowed: \(allowed)")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
