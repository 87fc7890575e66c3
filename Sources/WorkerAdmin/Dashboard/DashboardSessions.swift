import Foundation
import Synchronization

/// The dashboard's logins: a session per successful form login, kept in memory (a restarted worker asks again),
/// each with its own CSRF token that every form of its pages carries and every form action must return.
final class DashboardSessions: Sendable {
    struct Session: Sendable {
        let csrf: String
        let expires: ContinuousClock.Instant
    }

    /// How long a login lasts.
    static let lifetime = Duration.seconds(12 * 3600)
    /// Sessions kept at once; a new login beyond it forgets the oldest.
    static let capacity = 1000

    private let sessions = Mutex<[String: Session]>([:])

    /// Starts a session; returns its id (the cookie's value) and CSRF token.
    func open() -> (id: String, csrf: String) {
        let id = Self.randomToken()
        let session = Session(csrf: Self.randomToken(), expires: .now + Self.lifetime)
        sessions.withLock { sessions in
            let now = ContinuousClock.now
            sessions = sessions.filter { $0.value.expires > now }
            if sessions.count >= Self.capacity, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires }) {
                sessions[oldest.key] = nil
            }
            sessions[id] = session
        }
        return (id, session.csrf)
    }

    /// The live session `id` names, if any.
    func session(_ id: String?) -> Session? {
        guard let id else { return nil }
        return sessions.withLock { sessions in
            guard let session = sessions[id] else { return nil }
            guard session.expires > .now else {
                sessions[id] = nil
                return nil
            }
            return session
        }
    }

    func close(_ id: String?) {
        guard let id else { return }
        _ = sessions.withLock { $0.removeValue(forKey: id) }
    }

    /// 32 random bytes in hex, from the system's CSPRNG.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    /// Compares secrets in time that depends only on their lengths, not on where they differ.
    static func matches(_ given: String, _ expected: String) -> Bool {
        let a = Array(given.utf8)
        let b = Array(expected.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<b.count { difference |= (index < a.count ? a[index] : 0) ^ b[index] }
        return difference == 0
    }
}
