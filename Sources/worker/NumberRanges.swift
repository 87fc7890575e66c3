import ArgumentParser
import Foundation

/// The range of every number a user can give, on a flag or in a `WORKER_*` variable (docs/commands.md lists
/// them). Each is checked as it is parsed, before any conversion that could trap (`Int(Double)`, `Duration`,
/// microsecond arithmetic, SQLite's busy timeout in 32-bit milliseconds): out of range, NaN or infinite is one
/// line naming the flag (exit 64) or the variable (exit 78) and the range.
struct NumberRange<Value: Comparable & Sendable>: Sendable {
    let range: ClosedRange<Value>
    /// What the number counts, for the message: "seconds", "bytes", "jobs".
    let unit: String
    let parse: @Sendable (String) -> Value?

    /// "a number of seconds from 0 to 86400".
    var expected: String {
        let kind = Value.self == Double.self ? "a number" : "a whole number"
        return "\(kind)\(unit.isEmpty ? "" : " of \(unit)") from \(bounds)"
    }

    /// "0 to 86400", for help texts.
    var bounds: String { "\(Self.text(range.lowerBound)) to \(Self.text(range.upperBound))" }

    /// A bound as people write it: 86400, not 86400.0.
    private static func text(_ bound: Value) -> String {
        let text = "\(bound)"
        return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }

    /// The value of `text` when it is a number in the range.
    func value(_ text: String) -> Value? {
        guard let value = parse(text), range.contains(value) else { return nil }
        return value
    }

    /// For `@Option(transform:)`: ArgumentParser puts the flag's name before the message.
    func argument(_ text: String) throws -> Value {
        guard let value = value(text) else { throw ValidationError("pass \(expected)") }
        return value
    }

    /// The value of environment variable `name`, nil when it is unset or empty; exit 78 naming it otherwise.
    func environment(_ name: String) throws -> Value? {
        guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return nil }
        guard let value = value(text) else {
            throw CLIError(.config, "\(name) is '\(text)': set it to \(expected)")
        }
        return value
    }
}

extension NumberRange where Value == Int {
    init(_ range: ClosedRange<Int>, _ unit: String = "") {
        self.init(range: range, unit: unit, parse: { Int($0) })
    }
}

extension NumberRange where Value == Int64 {
    init(_ range: ClosedRange<Int64>, _ unit: String = "") {
        self.init(range: range, unit: unit, parse: { Int64($0) })
    }
}

extension NumberRange where Value == Double {
    init(_ range: ClosedRange<Double>, _ unit: String = "") {
        // Double(String) reads "nan" and "inf" too: the range refuses them.
        self.init(range: range, unit: unit, parse: { Double($0) })
    }
}

/// The documented ranges.
enum Ranges {
    /// 100 years of 365 days: far enough for any schedule, far from overflowing microseconds since 1970.
    static let hundredYears: Int64 = 3_153_600_000

    static let delay = NumberRange<Double>(0...Double(hundredYears), "seconds")
    /// SQLite takes the busy timeout in 32-bit milliseconds (at most 24.8 days); a day is plenty.
    static let busyTimeout = NumberRange<Double>(0...86_400, "seconds")
    static let drainTimeout = NumberRange<Double>(0...86_400, "seconds")
    /// A job's (or a queue's) timeout per attempt: 1 ms to 7 days.
    static let jobTimeout = NumberRange<Double>(0.001...604_800, "seconds")
    static let crashReportTimeout = NumberRange<Int>(0...3_600, "seconds")
    static let priority = NumberRange<Int>(-1_000_000...1_000_000)
    static let maxAttempts = NumberRange<Int>(1...1_000_000)
    static let batchSize = NumberRange<Int>(1...1_000_000, "jobs")
    /// SQLite's largest string by default is 1,000,000,000 bytes.
    static let maxPayloadBytes = NumberRange<Int>(1...1_000_000_000, "bytes")
    static let limit = NumberRange<Int>(0...Int.max, "jobs")
    static let concurrency = NumberRange<Int>(1...10_000, "jobs")
    static let prefetch = NumberRange<Int>(0...10_000, "jobs")
    static let jobID = NumberRange<Int64>(1...Int64.max)
    /// `jobs --after`: 0 starts an ascending listing from the first job.
    static let cursor = NumberRange<Int64>(0...Int64.max)
}
