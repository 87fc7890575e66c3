import Logging
import Synchronization

/// The jobs plugins are running, by the token a plugin holds for each: its completion `context` and its
/// `wp_job_handle` are that token, never a pointer to host memory. A plugin that completes a job twice (even from
/// two threads at once), or calls a service for a job that ended, hands back a token that is no longer live: the
/// call does nothing and is logged naming the plugin and the job, instead of touching freed memory.
final class SessionRegistry: Sendable {
    /// The one registry of the process (tokens are unique across every host).
    static let shared = SessionRegistry()

    /// A job that ended, remembered to name it when its token comes back.
    private struct Ended {
        let token: UInt
        let plugin: String
        let job: Int64
        let logger: Logger
    }

    /// How many ended jobs are remembered by name; an older token is reported without one.
    private static let remembered = 4096

    private let state = Mutex<(next: UInt, live: [UInt: JobSession], ended: [Ended?])>(
        (1, [:], Array(repeating: nil, count: SessionRegistry.remembered)))

    /// A new token (never 0: a plugin may not be handed NULL).
    func newToken() -> UInt {
        state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
    }

    /// Makes `session` reachable by its token until `end(_:)`.
    func add(_ session: JobSession) {
        state.withLock { $0.live[session.token] = session }
    }

    /// The live session of `token`, for a host service; nil (logged) when the job ended or the token is unknown.
    func session(_ token: UInt, for use: String) -> JobSession? {
        let (live, ended) = state.withLock { state in (state.live[token], state.ended[Int(token % UInt(Self.remembered))]) }
        if let live { return live }
        reportMisuse(token, ended, use)
        return nil
    }

    /// Ends the session of `token` and returns it, once: a second call (the plugin completing again) returns nil
    /// and is logged.
    func end(_ token: UInt, for use: String) -> JobSession? {
        let (live, ended): (JobSession?, Ended?) = state.withLock { state in
            let slot = Int(token % UInt(Self.remembered))
            guard let session = state.live.removeValue(forKey: token) else { return (nil, state.ended[slot]) }
            state.ended[slot] = Ended(token: token, plugin: session.plugin, job: session.jobID, logger: session.logger)
            return (session, nil)
        }
        if let live { return live }
        reportMisuse(token, ended, use)
        return nil
    }

    private func reportMisuse(_ token: UInt, _ ended: Ended?, _ use: String) {
        if let ended, ended.token == token {
            ended.logger.error(
                "plugin \(ended.plugin) misused job \(ended.job): \(use) after the job ended; ignored (a plugin completes each job exactly once and uses its handle only until then)",
                metadata: ["job": "\(ended.job)", "plugin": "\(ended.plugin)"])
        } else {
            Logger(label: "worker").error(
                "a plugin misused a job handle: \(use) with \(token < newTokenPeek() ? "the handle of a job that ended long ago" : "a handle the worker never gave out"); ignored")
        }
    }

    private func newTokenPeek() -> UInt { state.withLock { $0.next } }
}
