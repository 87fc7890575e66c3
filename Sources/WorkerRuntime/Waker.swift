import Synchronization

/// Wakes a waiting loop: a wake-up that comes while nobody waits is kept for the next wait.
final class Waker: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func wake() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at the next wake-up, or after `timeout` on `clock`.
    func wait(timeout: Duration, clock: RuntimeClock = .system) async {
        let deadline = clock.now() + timeout  // now, not when the timer's task first runs (late on a loaded machine)
        let timer = Task { [self] in
            await clock.sleep(deadline)
            if !Task.isCancelled { wake() }
        }
        await wait()
        timer.cancel()
    }

    /// Returns at the next wake-up; cheaper than a wait with a timeout (no timer), for when one is sure to come.
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready: Bool = state.withLock { state in
                if state.pending {
                    state.pending = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
