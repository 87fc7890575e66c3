import Foundation

/// Input text must be valid UTF-8: Swift would otherwise replace each bad byte with U+FFFD, and a payload, a
/// key or a name would be stored as something other than what was given.
enum UTF8Check {
    /// The offset of the first byte that is not part of valid UTF-8 (overlong forms and surrogates included),
    /// or nil when all of `bytes` is valid.
    static func firstInvalidOffset(_ bytes: some Sequence<UInt8>) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// "byte 0xFF at offset 3" for the first invalid byte of `bytes`, nil when they are valid UTF-8.
    static func problem(in bytes: some Collection<UInt8>) -> String? {
        guard let offset = firstInvalidOffset(bytes) else { return nil }
        let byte = bytes[bytes.index(bytes.startIndex, offsetBy: offset)]
        return "byte 0x\(String(byte, radix: 16, uppercase: true)) at offset \(offset)"
    }

    /// Refuses a command-line argument that is not valid UTF-8, naming its flag (or position) and the byte: 65
    /// for `--payload` (data), 64 for the others. `CommandLine.arguments` has already replaced the bad bytes, so
    /// this reads the raw `argv`.
    static func checkArguments() throws {
        var previous: String?
        for index in 1..<Int(CommandLine.argc) {
            guard let pointer = CommandLine.unsafeArgv[index] else { continue }
            let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer))
            let argument = String(decoding: bytes, as: UTF8.self)
            defer { previous = argument }
            guard firstInvalidOffset(bytes) != nil else { continue }
            let flag: String?
            var value = bytes[...]
            if argument.hasPrefix("--"), let equals = bytes.firstIndex(of: UInt8(ascii: "=")) {
                flag = String(decoding: bytes[..<equals], as: UTF8.self)
                value = bytes[(equals + 1)...]
            } else if let previous, previous.hasPrefix("--"), !previous.contains("="), !argument.hasPrefix("-") {
                flag = previous
            } else {
                flag = nil
            }
            let what = flag.map { "the value of \($0)" } ?? "argument \(index)"
            let problem = problem(in: value) ?? problem(in: bytes) ?? ""
            throw CLIError(flag == "--payload" ? .dataError : .usage, "\(what) is not valid UTF-8 (\(problem)): pass UTF-8 text")
        }
    }

    /// Refuses a `WORKER_*` variable that is not valid UTF-8 (exit 78 naming it): `ProcessInfo` would hand over a
    /// repaired value, e.g. another database path. Reads the raw bytes from /proc/self/environ.
    static func checkEnvironment() throws {
        guard let data = FileManager.default.contents(atPath: "/proc/self/environ") else { return }
        for entry in data.split(separator: 0) where entry.starts(with: "WORKER_".utf8) {
            guard firstInvalidOffset(entry) != nil else { continue }
            let name = entry.prefix { $0 != UInt8(ascii: "=") }
            let value = entry.dropFirst(name.count + 1)
            let problem = problem(in: value) ?? problem(in: entry) ?? ""
            throw CLIError(.config, "\(String(decoding: name, as: UTF8.self)) is not valid UTF-8 (\(problem)): set it to UTF-8 text")
        }
    }
}
