import Foundation
import Schedules
import Testing

/// Every kind of refusal, with its code and exact message (after `cron expression "TEXT": `).
let refusals: [(String, CronError.Code, String)] = {
    let fieldCount = "give five (minute hour day-of-month month day-of-week) or six (second first)"
    let empty = "is empty; give five fields (minute hour day-of-month month day-of-week), six with seconds first, "
        + "or @hourly, @daily, @weekly, @monthly, @yearly"
    let names = "use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
    let characters = "use digits, names, *, ranges a-b, steps /n and lists a,b"
    let dayOfWeek = "0-7 (0 and 7 are Sunday) or SUN-SAT"
    return [
        ("61 * * * *", .outOfRange, "minute 61 is outside 0-59"),
        ("60 * * * * *", .outOfRange, "second 60 is outside 0-59"),
        ("0 24 * * *", .outOfRange, "hour 24 is outside 0-23"),
        ("0 0 0 * *", .outOfRange, "day-of-month 0 is outside 1-31"),
        ("0 0 32 * *", .outOfRange, "day-of-month 32 is outside 1-31"),
        ("0 0 * 13 *", .outOfRange, "month 13 is outside 1-12 or JAN-DEC"),
        ("0 0 * * 8", .outOfRange, "day-of-week 8 is outside \(dayOfWeek)"),
        ("99999999999999999999999 * * * *", .outOfRange, "minute 99999999999999999999999 is outside 0-59"),
        ("0-60 * * * *", .outOfRange, "minute 60 is outside 0-59"),
        ("* * * *", .fieldCount, "has 4 fields; \(fieldCount)"),
        ("* * * * * * *", .fieldCount, "has 7 fields; \(fieldCount)"),
        ("5", .fieldCount, "has 1 field; \(fieldCount)"),
        ("@daily 0", .fieldCount, "@daily stands alone; give it without fields"),
        ("", .emptyField, empty),
        ("  \t ", .emptyField, empty),
        ("1,,2 * * * *", .emptyField, "minute field \"1,,2\" has an empty list item"),
        ("0 1, * * *", .emptyField, "hour field \"1,\" has an empty list item"),
        ("0 0 * * ,MON", .emptyField, "day-of-week field \",MON\" has an empty list item"),
        ("*/0 * * * *", .invalidStep, "minute step \"0\" in \"*/0\" must be a whole number from 1 to 60"),
        ("*/-1 * * * *", .invalidStep, "minute step \"-1\" in \"*/-1\" must be a whole number from 1 to 60"),
        ("0 */25 * * *", .invalidStep, "hour step \"25\" in \"*/25\" must be a whole number from 1 to 24"),
        ("0 0 * * */8", .invalidStep, "day-of-week step \"8\" in \"*/8\" must be a whole number from 1 to 7"),
        ("*/ * * * *", .invalidStep, "minute step \"\" in \"*/\" must be a whole number from 1 to 60"),
        ("*/5/2 * * * *", .invalidStep, "minute item \"*/5/2\" has more than one step (/)"),
        ("30-10 * * * *", .reversedRange, "minute range 30-10 is reversed; write the smaller value first"),
        ("0 0 * * FRI-MON", .reversedRange, "day-of-week range FRI-MON is reversed; write the smaller value first"),
        ("1-2-3 * * * *", .invalidValue, "minute item \"1-2-3\" is not a value or a range a-b; allowed: 0-59"),
        ("-5 * * * *", .invalidValue, "minute item \"-5\" has a missing value; allowed: 0-59"),
        ("5- * * * *", .invalidValue, "minute item \"5-\" has a missing value; allowed: 0-59"),
        ("/5 * * * *", .invalidValue, "minute item \"/5\" has a missing value; allowed: 0-59"),
        ("0 0 * FOO *", .invalidValue, "month \"FOO\" is not a number or a name; allowed: 1-12 or JAN-DEC"),
        ("0 0 * * MONDAY", .invalidValue, "day-of-week \"MONDAY\" is not a number or a name; allowed: \(dayOfWeek)"),
        ("a * * * *", .invalidValue, "minute \"a\" is not a number; allowed: 0-59"),
        ("0 JAN * * *", .invalidValue, "hour \"JAN\" is not a number; allowed: 0-23"),
        ("0 0 L * *", .invalidValue, "day-of-month \"L\" is not a number; allowed: 1-31"),
        ("@reboot", .unknownName, "unknown name @reboot; \(names)"),
        ("@every 5m", .unknownName, "unknown name @every; \(names)"),
        ("0 0 * * 1#2", .invalidCharacter, "day-of-week field \"1#2\" has the character \"#\"; \(characters)"),
        ("0 0 ? * *", .invalidCharacter, "day-of-month field \"?\" has the character \"?\"; \(characters)"),
        ("０ * * * *", .invalidCharacter, "minute field \"０\" has the character \"０\"; \(characters)"),
        ("0 0 30 2 *", .neverFires, "never fires: no calendar date has day-of-month 30 in month 2"),
        ("0 0 31 2,4,6,9,11 *", .neverFires, "never fires: no calendar date has day-of-month 31 in month 2,4,6,9,11"),
        ("0 0 0 30-31 FEB *", .neverFires, "never fires: no calendar date has day-of-month 30-31 in month FEB"),
    ]
}()

@Suite struct CronParsingTests {
    @Test(arguments: refusals)
    func refused(text: String, code: CronError.Code, detail: String) {
        do {
            let parsed = try CronExpression(parsing: text)
            Issue.record("\(text) was accepted as \(parsed)")
        } catch {
            #expect(error.code == code)
            #expect(error.detail == detail)
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(error.description == "cron expression \"\(trimmed)\": \(detail)")
        }
    }

    @Test func errorsNameTheirField() throws {
        #expect(try #require(throws: CronError.self) { try CronExpression(parsing: "61 * * * *") }.field == "minute")
        #expect(try #require(throws: CronError.self) { try CronExpression(parsing: "0 0 * * 9") }.field == "day-of-week")
        #expect(try #require(throws: CronError.self) { try CronExpression(parsing: "0 0 30 2 *") }.field == nil)
        #expect(try #require(throws: CronError.self) { try CronExpression(parsing: "0 0 30 2 *") }.code.description
                    == "neverFires")
    }

    @Test func messagesStayOnOneLine() throws {
        let error = try #require(throws: CronError.self) { try CronExpression(parsing: "0 0\n* * *") }
        #expect(error.description == #"cron expression "0 0\n* * *": has 4 fields; give five (minute hour day-of-month month day-of-week) or six (second first)"#)
        #expect(!error.description.contains("\n"))
        let longField = try #require(throws: CronError.self) {
            try CronExpression(parsing: String(repeating: "1", count: 300) + ",, * * * *")
        }
        #expect(longField.description.count < 300)
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
            ("0 0 * * 7/2", "0 0 * * 0"),
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
}

@Suite struct ScheduleTimeZoneTests {
    @Test func knownNames() throws {
        #expect(try ScheduleTimeZone.named("Europe/Berlin").identifier == "Europe/Berlin")
        #expect(try ScheduleTimeZone.named("America/New_York").secondsFromGMT(for: at("2026-01-01T00:00:00Z")) == -18_000)
        #expect(try ScheduleTimeZone.named("UTC").secondsFromGMT(for: at("2026-07-01T00:00:00Z")) == 0)
        #expect(try ScheduleTimeZone.named("Etc/GMT-2").secondsFromGMT(for: at("2026-07-01T00:00:00Z")) == 7_200)
    }

    @Test func unknownNames() {
        let fix = "use an IANA name such as Europe/Berlin, America/New_York or UTC (the names under /usr/share/zoneinfo)"
        let cases = [
            ("europe/berlin", "time zone \"europe/berlin\" is unknown; did you mean Europe/Berlin?"),
            ("utc", "time zone \"utc\" is unknown; did you mean UTC?"),
            ("Nope/Zone", "time zone \"Nope/Zone\" is unknown; \(fix)"),
            ("PST", "time zone \"PST\" is unknown; \(fix)"),
            ("CET", "time zone \"CET\" is unknown; \(fix)"),
            ("GMT+2", "time zone \"GMT+2\" is unknown; \(fix)"),
            ("", "time zone \"\" is unknown; \(fix)"),
            ("America/New_York ", "time zone \"America/New_York \" is unknown; \(fix)"),
            ("../../etc/passwd", "time zone \"../../etc/passwd\" is unknown; \(fix)"),
            ("Europe/Berlin\n", "time zone \"Europe/Berlin\\n\" is unknown; \(fix)"),
        ]
        for (name, message) in cases {
            #expect(throws: ScheduleTimeZoneError.self) { try ScheduleTimeZone.named(name) }
            do {
                _ = try ScheduleTimeZone.named(name)
            } catch {
                #expect(error.description == message)
            }
        }
    }
}
