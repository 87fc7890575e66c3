import Foundation

/// Runs a blocking store call (`checkpointBlocking`, `beginStepBlocking`...) on a thread of its own, as a plugin's
/// host-service call does: never on Swift's cooperative pool, which such a call must not block.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
