import Foundation
import WorkerRuntime

/// How the dashboard treats its clients: read-only unless a token is configured (then actions need it), and
/// whether payloads and errors are shown.
public struct DashboardSettings: Sendable {
    /// The secret actions need (`--admin-token-file`); nil: read-only, every action answers 403.
    public var token: String?
    /// Hide payloads, checkpoints, step results, errors and failure reasons (`--admin-hide-payloads`), and refuse
    /// text search (which would let a client probe for them).
    public var hidePayloads: Bool

    public init(token: String? = nil, hidePayloads: Bool = false) {
        self.token = token
        self.hidePayloads = hidePayloads
    }

    /// The fewest characters a token may have: guessing one must be hopeless.
    public static let minimumTokenLength = 16

    /// Reads the token from `file` (surrounding whitespace and the final newline dropped). Refuses, with exit 78
    /// and a line naming the file and the fix, a file that cannot be read, is empty or holds a token shorter than
    /// `minimumTokenLength`, or one with characters an HTTP header cannot carry.
    public static func token(fromFile file: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw WorkerError(.config, "--admin-token-file \(file): cannot read it: give a readable file holding the token")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw WorkerError(.config, "--admin-token-file \(file): not UTF-8 text: put the token in it as one line of text")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            throw WorkerError(.config, "--admin-token-file \(file): it is empty: put a random token of at least \(minimumTokenLength) characters in it, e.g. `openssl rand -hex 32 > \(file)`")
        }
        guard token.count >= minimumTokenLength else {
            throw WorkerError(.config, "--admin-token-file \(file): the token has \(token.count) characters: use at least \(minimumTokenLength), e.g. `openssl rand -hex 32 > \(file)`")
        }
        guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw WorkerError(.config, "--admin-token-file \(file): the token has spaces, control or non-ASCII characters: use printable ASCII only, e.g. `openssl rand -hex 32 > \(file)`")
        }
        return token
    }
}
