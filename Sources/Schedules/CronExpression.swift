import Foundation

/// A parsed cron expression: when a schedule fires.
///
/// Five fields (`minute hour day-of-month month day-of-week`) or six with seconds first, or one of the names
/// `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`. Each field is `*`, a value, a
/// range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from `a` to the end of the range), or a list of these
/// `a,b-c,*/n`. Months may be named `JAN`-`DEC` and days of the week `SUN`-`SAT` (any case); day-of-week 0 and 7
/// are both Sunday.
///
/// Days follow Vixie cron's rule: when both day-of-month and day-of-week are restricted (neither field starts with
/// `*`), a day matches if either matches (`0 0 1,15 * MON`: the 1st, the 15th and every Monday); otherwise both
/// must match (`0 0 */2 * MON`: Mondays that fall on an odd day of the month).
///
/// An expression that no calendar date satisfies (`0 0 30 2 *`) is refused when parsed, so a valid expression
/// always has a next tick (``next(after:in:)``) within one 400-year Gregorian cycle.
///
/// Two expressions are equal when they allow the same values and are written the same (after trimming), so
/// `@daily` and `0 0 * * *` tick alike but are not equal.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    /// The expression as given, trimmed, with runs of spaces and tabs between fields made one space.
    public let description: String
    let seconds: CronField
    let minutes: CronField
    let hours: CronField
    let daysOfMonth: CronField
    let months: CronField
    let daysOfWeek: CronField
    /// Vixie cron's flags: whether the day-of-month and day-of-week fields start with `*`.
    let dayOfMonthIsStar: Bool
    let dayOfWeekIsStar: Bool

    /// The `@names` and the five fields each stands for.
    static let nicknames: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// Parses `text`; throws a ``CronError`` naming the field, the value and what is allowed.
    public init(parsing text: String) throws(CronError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var fields = trimmed.split(whereSeparator: \.isCronSpace)
        description = fields.joined(separator: " ")
        guard let first = fields.first else {
            throw CronError(.emptyField, trimmed,
                            "is empty; give five fields (minute hour day-of-month month day-of-week), six with "
                                + "seconds first, or @hourly, @daily, @weekly, @monthly, @yearly")
        }
        if first.hasPrefix("@") {
            guard let fiveFields = Self.nicknames[first.lowercased()] else {
                throw CronError(.unknownName, trimmed,
                                "unknown name \(shown(first)); use @yearly, @annually, @monthly, "
                                    + "@weekly, @daily, @midnight or @hourly")
            }
            guard fields.count == 1 else {
                throw CronError(.fieldCount, trimmed, "\(first) stands alone; give it without fields")
            }
            fields = fiveFields.split(separator: " ")
        }
        guard fields.count == 5 || fields.count == 6 else {
            throw CronError(.fieldCount, trimmed,
                            "has \(fields.count) field\(fields.count == 1 ? "" : "s"); give five (minute hour "
                                + "day-of-month month day-of-week) or six (second first)")
        }
        if fields.count == 5 { fields.insert("0", at: 0) }
        seconds = try CronFieldKind.second.parse(fields[0], in: trimmed)
        minutes = try CronFieldKind.minute.parse(fields[1], in: trimmed)
        hours = try CronFieldKind.hour.parse(fields[2], in: trimmed)
        daysOfMonth = try CronFieldKind.dayOfMonth.parse(fields[3], in: trimmed)
        months = try CronFieldKind.month.parse(fields[4], in: trimmed)
        daysOfWeek = try CronFieldKind.dayOfWeek.parse(fields[5], in: trimmed)
        dayOfMonthIsStar = fields[3].hasPrefix("*")
        dayOfWeekIsStar = fields[5].hasPrefix("*")
        try checkFires(dayOfMonth: fields[3], month: fields[4], dayOfWeek: fields[5], expression: trimmed)
    }

    /// Whether the hour field allows every hour (`*`, `*/1`, `0-23`): such an expression follows elapsed time
    /// across daylight-saving changes instead of the wall clock (see ``next(after:in:)``).
    var followsElapsedTime: Bool { hours.count == 24 }

    /// Refuses fields that no date satisfies. The Gregorian calendar repeats every 400 years (a whole number of
    /// weeks), so one cycle searched without a match means none ever.
    private func checkFires(
        dayOfMonth: Substring, month: Substring, dayOfWeek: Substring, expression: String
    ) throws(CronError) {
        let start = CivilDate(year: 2000, month: 1, day: 1)
        if matchingDay(atOrAfter: start, before: start.dayNumber + 146_097) != nil { return }
        let weekday = dayOfMonthIsStar && !dayOfWeekIsStar ? " on day-of-week \(shown(dayOfWeek))" : ""
        throw CronError(.neverFires, expression,
                        "never fires: no calendar date has day-of-month \(shown(dayOfMonth)) in month "
                            + "\(shown(month))\(weekday)")
    }
}

extension Character {
    /// Fields are separated by spaces and tabs, as in a crontab; a line break inside is refused as a character.
    fileprivate var isCronSpace: Bool { self == " " || self == "\t" }
}
