import ServiceLifecycle
import Synchronization

/// A service that runs beside the dispatcher in the worker's ServiceGroup (the admin endpoint), and must be up
/// before the worker recovers or takes work: if it cannot start, the worker stops before touching a job. If it
/// fails once up, the worker drains and exits with its failure.
public protocol Sidecar: Service {
    /// What it is, for log lines and the reason recorded on jobs a failure of it interrupts ("the admin endpoint").
    var role: String { get }
    /// Whether it came up (`started()` returned).
    var isStarted: Bool { get }
    /// Returns once the service is up; throws why it could not start.
    func started() async throws
}

/// A one-time "it is up" or "it failed", awaited by any number of tasks.
public final class StartupGate: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Void, any Error>])
        case open
        case failed(any Error)
    }

    private let state = Mutex(State.waiting([]))

    /// A closed gate.
    public init() {}

    /// Whether the gate opened.
    public var isOpen: Bool {
        state.withLock { state in
            if case .open = state { return true }
            return false
        }
    }

    /// Lets every waiter through, now and later.
    public func open() { settle(nil) }

    /// Fails every waiter, now and later, with `error` (ignored once the gate is open).
    public func fail(_ error: any Error) { settle(error) }

    /// Returns once the gate is open; throws its failure.
    public func wait() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let result: Result<Void, any Error>? = state.withLock { state in
                switch state {
                case .waiting(let waiters):
                    state = .waiting(waiters + [continuation])
                    return nil
                case .open: return .success(())
                case .failed(let error): return .failure(error)
                }
            }
            if let result { continuation.resume(with: result) }
        }
    }

    private func settle(_ error: (any Error)?) {
        let waiters: [CheckedContinuation<Void, any Error>] = state.withLock { state in
            guard case .waiting(let waiters) = state else { return [] }
            state = error.map { .failed($0) } ?? .open
            return waiters
        }
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }
}
