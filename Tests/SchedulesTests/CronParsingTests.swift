import Foundation
import Schedules
import Testing

@Suite struct CronParsingTests {
    @Test(arguments: [
        ("61 * * * *", "minute 61 is outside 0-59"),
        ("60 * * * * *", "second 60 is outside 0-59"),
        ("0 24 * * *", "hour 24 is outside 0-23"),
        ("0 0 0 * *", "day-of-month 0 is outside 1-31"),
        ("0 0 32 * *", "day-of-month 32 is outside 1-31"),
        ("0 0 * 13 *", "month 13 is outside 1-12 or JAN-DEC"),
        ("0 0 * * 8", "day-of-week 8 is outside 0-7 (0 and 7 are Sunday) or SUN-SAT"),
        ("99999999999999999999999 * * * *", "minute 99999999999999999999999 is outside 0-59"),
        ("0-60 * * * *", "minute 60 is outside 0-59"),
    ])
    func outOfRange(text: String, detail: String) {
        expectRefused(text, .outOfRange, detail)
    }

    @Test func wrongFieldCounts() {
        let allowed = "give five (minute hour day-of-month month day-of-week) or six (second first)"
        expectRefused("* * * *", .fieldCount, "has 4 fields; \(allowed)")
        expectRefused("* * * * * * *", .fieldCount, "has 7 fields; \(allowed)")
        expectRefused("5", .fieldCount, "has 1 field; \(allowed)")
        expectRefused("@daily 0", .fieldCount, "@daily stands alone; give it without fields")
    }

    @Test func emptyInputAndEmptyItems() {
        let give = "is empty; give five fields (minute hour day-of-month month day-of-week), six with seconds first, "
            + "or @hourly, @daily, @weekly, @monthly, @yearly"
        expectRefused("", .emptyField, give)
        expectRefused("  \t ", .emptyField, give)
        expectRefused("1,,2 * * * *", .emptyField, "minute field \"1,,2\" has an empty list item")
        expectRefused("0 1, * * *", .emptyField, "hour field \"1,\" has an empty list item")
        expectRefused("0 0 * * ,MON", .emptyField, "day-of-week field \",MON\" has an empty list item")
    }

    @Test func badSteps() {
        expectRefused("*/0 * * * *", .invalidStep, "minute step \"0\" in \"*/0\" must be a whole number from 1 to 60")
        expectRefused("*/-1 * * * *", .invalidStep, "minute step \"-1\" in \"*/-1\" must be a whole number from 1 to 60")
        expectRefused("0 */25 * * *", .invalidStep, "hour step \"25\" in \"*/25\" must be a whole number from 1 to 24")
        expectRefused("0 0 * * */8", .invalidStep, "day-of-week step \"8\" in \"*/8\" must be a whole number from 1 to 7")
        expectRefused("*/ * * * *", .invalidStep, "minute step \"\" in \"*/\" must be a whole number from 1 to 60")
        expectRefused("*/5/2 * * * *", .invalidStep, "minute item \"*/5/2\" has more than one step (/)")
    }

    @Test func reversedAndMalformedRanges() {
        expectRefused("30-10 * * * *", .reversedRange, "minute range 30-10 is reversed; write the smaller value first")
        expectRefused("0 0 * * FRI-MON", .reversedRange,
                      "day-of-week range FRI-MON is reversed; write the smaller value first")
        expectRefused("1-2-3 * * * *", .invalidValue, "minute item \"1-2-3\" is not a value or a range a-b; allowed: 0-59")
        expectRefused("-5 * * * *", .invalidValue, "minute item \"-5\" has a missing value; allowed: 0-59")
        expectRefused("5- * * * *", .invalidValue, "minute item \"5-\" has a missing value; allowed: 0-59")
        expectRefused("/5 * * * *", .invalidValue, "minute item \"/5\" has a missing value; allowed: 0-59")
    }

    @Test func unknownNamesAndGarbage() {
        expectRefused("0 0 * FOO *", .invalidValue, "month \"FOO\" is not a number or a name; allowed: 1-12 or JAN-DEC")
        expectRefused("0 0 * * MONDAY", .invalidValue,
                      "day-of-week \"MONDAY\" is not a number or a name; allowed: 0-7 (0 and 7 are Sunday) or SUN-SAT")
        expectRefused("a * * * *", .invalidValue, "minute \"a\" is not a number; allowed: 0-59")
        expectRefused("0 JAN * * *", .invalidValue, "hour \"JAN\" is not a number; allowed: 0-23")
        expectRefused("0 0 L * *", .invalidValue, "day-of-month \"L\" is not a number; allowed: 1-31")
        expectRefused("@reboot", .unknownName,
                      "unknown name @reboot; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly")
        expectRefused("@every 5m", .unknownName,
                      "unknown name @every; use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly")
        expectRefused("0 0 * * 1#2", .invalidCharacter,
                      "day-of-week field \"1#2\" has the character \"#\"; use digits, names, *, ranges a-b, steps /n and lists a,b")
        expectRefused("0 0 ? * *", .invalidCharacter,
                      "day-of-month field \"?\" has the character \"?\"; use digits, names, *, ranges a-b, steps /n and lists a,b")
        expectRefused("０ * * * *", .invalidCharacter,
                      "minute field \"０\" has the character \"０\"; use digits, names, *, ranges a-b, steps /n and lists a,b")
    }

    @Test func neverFiring() {
        expectRefused("0 0 30 2 *", .neverFires, "never fires: no calendar date has day-of-month 30 in month 2")
        expectRefused("0 0 31 2,4,6,9,11 *", .neverFires,
                      "never fires: no calendar date has day-of-month 31 in month 2,4,6,9,11")
        expectRefused("0 0 0 30-31 FEB *", .neverFires,
                      "never fires: no calendar date has day-of-month 30-31 in month FEB")
    }

    @Test func messagesStayOnOneLine() throws {
        let error = try #require(throws: CronError.self) { try CronExpression(parsing: "0 0\n* * *") }
        #expect(error.description == #"cron expression "0 0\n* * *": has 4 fields; give five (minute hour day-of-month month day-of-week) or six (second first)"#)
        #expect(!error.description.contains("\n"))
        let long = String(repeating: "1,", count: 200) + "x * * * *"
        let longError = try #require(throws: CronError.self) { try CronExpression(parsing: long) }
        #expect(longError.description.count < 400)
        #expect(longError.description.hasPrefix("cron expression \"1,1,1,"))
    }

    @Test func acceptsAndNormalizes() throws {
        #expect(try CronExpression(parsing: "  0   9\t* * MON-FRI \n").description == "0 9 * * MON-FRI")
        #expect(try CronExpression(parsing: "@Daily").description == "@Daily")
        for text in ["* * * * *", "*/5 * * * * *", "0 0 29 2 *", "0 0 */29 2 MON", "0-59/7 1,2,5-9 1-31/3 jan-Dec/2 sun-sat",
                     "0 0 * * 0-7", "10/20 * * * *", "@yearly", "@annually", "@monthly", "@weekly", "@midnight",
                     "@hourly", "0 0 1 * 7", "59 23 31 12 *"] {
            #expect(throws: Never.self) { try CronExpression(parsing: text) }
        }
    }

    @Test func namesAndNumbersAreTheSameSchedule() throws {
        let pairs = [
            ("0 0 1 jan,Jul *", "0 0 1 1,7 *"),
            ("0 0 * * sun", "0 0 * * 7"),
            ("0 0 * * 0", "0 0 * * 7"),
            ("0 0 * * MON-FRI", "0 0 * * 1-5"),
            ("@yearly", "0 0 1 1 *"),
            ("@annually", "0 0 1 1 *"),
            ("@monthly", "0 0 1 * *"),
            ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"),
            ("@hourly", "0 * * * *"),
            ("*/20 * * * *", "0,20,40 * * * *"),
            ("10/20 * * * *", "10,30,50 * * * *"),
            ("0 0 * * 5-7", "0 0 * * 0,5,6"),
            ("0 0 * * 1/2", "0 0 * * 1,3,5"),
            ("0 * * * *", "0 0 * * * *"),
        ]
        for (left, right) in pairs {
            let a = try CronExpression(parsing: left)
            let b = try CronExpression(parsing: right)
            let start = at("2026-01-01T00:00:00Z")
            let end = at("2028-01-01T00:00:00Z")
            #expect(a.ticks(after: start, through: end, in: utc, limit: 20_000)
                        == b.ticks(after: start, through: end, in: utc, limit: 20_000), "\(left) vs \(right)")
        }
    }

    private func expectRefused(
        _ text: String, _ code: CronError.Code, _ detail: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let parsed = try CronExpression(parsing: text)
            Issue.record("\(text) was accepted as \(parsed)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, sourceLocation: sourceLocation)
            #expect(error.detail == detail, sourceLocation: sourceLocation)
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(error.description == "cron expression \"\(trimmed)\": \(detail)", sourceLocation: sourceLocation)
        }
    }
}
