import Crypto
import Foundation

/// Checks made on a plugin file before `dlopen`, which runs the library's constructors: after that it is too
/// late to refuse it.
enum PluginFileCheck {
    /// Verifies that `path` is a safe plugin file and returns its SHA-256 (hex). `directory` is the directory the
    /// plugin was found in (for `--plugins DIR`) or the file's own directory: a symlink may not lead out of it.
    static func check(_ path: String, directory: String, pins: PluginPins?) throws -> String {
        func refuse(_ reason: String) -> PluginError { PluginError(path: path, reason: reason) }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            throw refuse("cannot read it (\(String(cString: strerror(errno)))): check the path")
        }
        var real = path
        if info.st_mode & S_IFMT == S_IFLNK {
            guard let resolved = realpath(path, nil) else {
                throw refuse("it is a symlink that leads nowhere (\(String(cString: strerror(errno))))")
            }
            real = String(cString: resolved)
            free(resolved)
            let base = (realpath(directory, nil)).map { pointer in
                defer { free(pointer) }
                return String(cString: pointer)
            } ?? directory
            guard (real as NSString).deletingLastPathComponent == base else {
                throw refuse("it is a symlink to \(real), outside \(base): copy the plugin into the directory instead")
            }
            guard stat(real, &info) == 0 else { throw refuse("cannot read \(real): \(String(cString: strerror(errno)))") }
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw refuse("it is not a regular file")
        }
        try checkOwnerAndMode(info, what: "the file", path: path)
        let parent = (real as NSString).deletingLastPathComponent
        var parentInfo = stat()
        guard stat(parent.isEmpty ? "." : parent, &parentInfo) == 0 else {
            throw refuse("cannot read its directory \(parent): \(String(cString: strerror(errno)))")
        }
        try checkOwnerAndMode(parentInfo, what: "its directory \(parent.isEmpty ? "." : parent)", path: path)

        guard let data = FileManager.default.contents(atPath: real) else {
            throw refuse("cannot read it: check its permissions")
        }
        if let problem = ELFCheck.problem(in: data) { throw refuse(problem) }
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        if let pins, let expected = pins.expected(for: path) {
            guard expected == digest else {
                throw refuse("its SHA-256 is \(digest) but \(pins.source) pins \(expected): deploy the pinned file or update the pin")
            }
        } else if let pins, pins.requireAll {
            throw refuse("\(pins.source) has no pin for \((path as NSString).lastPathComponent): add its SHA-256 there")
        }
        return digest
    }

    private static func checkOwnerAndMode(_ info: stat, what: String, path: String) throws {
        let owner = info.st_uid
        guard owner == 0 || owner == geteuid() else {
            throw PluginError(
                path: path,
                reason: "\(what) is owned by uid \(owner), neither root nor the worker's user (uid \(geteuid())): chown it")
        }
        let writable = info.st_mode & (S_IWGRP | S_IWOTH)
        guard writable == 0 else {
            let who = info.st_mode & S_IWOTH != 0 ? "world" : "group"
            throw PluginError(
                path: path,
                reason: "\(what) is \(who)-writable (mode \(String(info.st_mode & 0o7777, radix: 8))): anyone could replace the code it runs; chmod go-w it")
        }
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
