import Crypto
import Foundation

/// Checks made on a plugin file before `dlopen`, which runs the library's constructors: after that it is too
/// late to refuse it.
enum PluginFileCheck {
    /// Opens `path` through `TrustedOpen`, checks the opened file's ELF structure and its pin, and returns its
    /// descriptor (for `dlopen` of that same file, through `/proc/self/fd`) and SHA-256 (hex). The checks read the
    /// descriptor, never the path again, so they and the load see the same file.
    static func check(_ path: String, pins: PluginPins?) throws -> (descriptor: Int32, sha256: String) {
        func refuse(_ reason: String) -> PluginError { PluginError(path: path, reason: reason) }
        let descriptor = try TrustedOpen.file(path)
        do {
            let data = try contents(of: descriptor, path: path)
            if let problem = ELFCheck.problem(in: data) { throw refuse(problem) }
            let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            if let pins, let expected = pins.expected(for: path) {
                guard expected == digest else {
                    throw refuse("its SHA-256 is \(digest) but \(pins.source) pins \(expected): deploy the pinned file or update the pin")
                }
            } else if let pins, pins.requireAll {
                throw refuse("\(pins.source) has no pin for \((path as NSString).lastPathComponent): add its SHA-256 there")
            }
            return (descriptor, digest)
        } catch {
            close(descriptor)
            throw error
        }
    }

    /// Every byte of the open file, read from its start.
    private static func contents(of descriptor: Int32, path: String) throws -> Data {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw PluginError(path: path, reason: "cannot read it: \(String(cString: strerror(errno)))")
        }
        var data = Data(count: Int(info.st_size))
        var offset = 0
        while offset < data.count {
            let count = data.withUnsafeMutableBytes { buffer in
                pread(descriptor, buffer.baseAddress! + offset, buffer.count - offset, off_t(offset))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw PluginError(path: path, reason: "cannot read it (\(count < 0 ? String(cString: strerror(errno)) : "it shrank while read")): check the file")
            }
            offset += count
        }
        return data
    }
}

/// Expected SHA-256 digests of plugin files, by file name: lines of `sha256sum` output (`HEX  NAME`).
public struct PluginPins: Sendable {
    /// Where the pins came from, for messages.
    public let source: String
    /// Digest by file name.
    public let digests: [String: String]
    /// Whether a plugin without a pin is refused (true for a pins file: it lists every allowed plugin).
    public let requireAll: Bool

    /// Pins given directly.
    public init(source: String, digests: [String: String], requireAll: Bool) {
        self.source = source
        self.digests = digests
        self.requireAll = requireAll
    }

    /// Reads a pins file in `sha256sum` format. A malformed line is a configuration error.
    public init(file: String) throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw PluginError(path: file, reason: "cannot read the pins file: check the path")
        }
        var digests: [String: String] = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let parts = trimmed.split(maxSplits: 1, whereSeparator: \.isWhitespace)
            guard parts.count == 2, parts[0].count == 64, parts[0].allSatisfy(\.isHexDigit) else {
                throw PluginError(path: file, reason: "line \(number + 1) is not `SHA256  FILE` (as sha256sum prints it)")
            }
            let name = parts[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "*"))
            digests[(name as NSString).lastPathComponent] = parts[0].lowercased()
        }
        self.init(source: file, digests: digests, requireAll: true)
    }

    func expected(for path: String) -> String? {
        digests[(path as NSString).lastPathComponent]
    }
}
