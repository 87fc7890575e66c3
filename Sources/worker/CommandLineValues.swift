import ArgumentParser
import WorkerAdmin

extension AdminAddress {
    /// For `@Option(transform:)`: the error names the forms and the port range.
    static func parse(_ argument: String) throws -> AdminAddress {
        guard let address = AdminAddress(argument) else {
            throw ValidationError("pass HOST:PORT, [IPv6]:PORT or a bare PORT (loopback), the port from 0 to 65535, e.g. 127.0.0.1:9090")
        }
        return address
    }
}

/// A length of time on the command line: `90` or `90s`, `15m`, `12h`, `30d`, `2w`, or several, as `1h30m`;
/// at most 100 years (`Ranges.hundredYears` seconds).
struct Age: CustomStringConvertible {
    let duration: Duration
    let description: String

    init?(argument: String) {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        var seconds: Int64 = 0
        var digits = ""
        for character in argument {
            if character.isASCII, character.isNumber {
                digits.append(character)
            } else if let unit = units[character], let value = Int64(digits) {
                let (product, overflow) = value.multipliedReportingOverflow(by: unit)
                let (sum, overflowed) = seconds.addingReportingOverflow(product)
                guard !overflow, !overflowed else { return nil }
                seconds = sum
                digits = ""
            } else {
                return nil
            }
        }
        if !digits.isEmpty {
            guard let value = Int64(digits), seconds == 0 else { return nil }  // a bare number: seconds
            seconds = value
        }
        guard !argument.isEmpty, seconds <= Ranges.hundredYears else { return nil }
        duration = .seconds(seconds)
        description = argument
    }

    /// For `@Option(transform:)`: the error names the forms that work.
    static func parse(_ argument: String) throws -> Age {
        guard let age = Age(argument: argument) else {
            throw ValidationError("pass an age from 0 to 100 years (\(Ranges.hundredYears) s) as a number with a unit, e.g. 30d, 12h, 90m, 1h30m, or plain seconds")
        }
        return age
    }
}
