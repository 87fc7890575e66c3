import Foundation

/// An instant written as ISO 8601 with an explicit offset (`2026-03-29T03:00:00+02:00`, or `Z`), parsed with
/// Foundation's Gregorian calendar in UTC so that expected instants do not depend on the code under test.
func at(_ text: String) -> Date {
    let scalars = Array(text.utf8)
    func number(_ range: Range<Int>) -> Int { Int(String(decoding: scalars[range], as: UTF8.self))! }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let components = DateComponents(
        year: number(0..<4), month: number(5..<7), day: number(8..<10),
        hour: number(11..<13), minute: number(14..<16), second: number(17..<19)
    )
    var date = calendar.date(from: components)!
    var rest = scalars.count - 19
    if rest > 0, scalars[19] == UInt8(ascii: ".") {
        // Fractions of a second: `.5` before the offset.
        var end = 20
        while end < scalars.count, scalars[end] >= UInt8(ascii: "0"), scalars[end] <= UInt8(ascii: "9") { end += 1 }
        date += Double("0" + String(decoding: scalars[19..<end], as: UTF8.self))!
        rest = scalars.count - end
    }
    if rest == 6 {
        let sign = scalars[scalars.count - 6] == UInt8(ascii: "-") ? -1.0 : 1.0
        let hours = Double(number(scalars.count - 5..<scalars.count - 3))
        let minutes = Double(number(scalars.count - 2..<scalars.count))
        date -= sign * (hours * 3_600 + minutes * 60)
    }
    return date
}

let utc = TimeZone(identifier: "UTC")!
let berlin = TimeZone(identifier: "Europe/Berlin")!
let newYork = TimeZone(identifier: "America/New_York")!
