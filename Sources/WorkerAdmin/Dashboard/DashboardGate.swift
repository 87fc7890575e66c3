import Synchronization

/// How much of the worker the dashboard may take, whatever its clients ask: it serves one request at a time, and
/// after each it rests `restFactor` times as long as the request took before it starts the next, so its reads and
/// rendering take at most a quarter of one core and of one store connection's time (with the default 3). Requests wait their turn in order; beyond `maxWaiting`
/// waiting, a request is answered at once (503, `Retry-After: 1`) without touching the journal. A person
/// refreshing a page, or a script polling, never waits: only clients asking back to back do.
final class DashboardGate: Sendable {
    let maxWaiting: Int
    let restFactor: Int

    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Bool, Never>] = []
        /// The next request may not start before this (the rest after the last one).
        var openAt = ContinuousClock.now
        var wakeScheduled = false
        /// Closed when the worker stops: every request is refused at once, so none holds up the exit.
        var closed = false
    }

    private let state = Mutex(State())

    init(maxWaiting: Int = 16, restFactor: Int = 3) {
        self.maxWaiting = maxWaiting
        self.restFactor = restFactor
    }

    /// Requests waiting their turn.
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Runs `work` in its turn, or returns `busy` at once when too many wait.
    func run<T>(busy: () -> T, _ work: () async -> T) async -> T {
        guard await enter() else { return busy() }
        let started = ContinuousClock.now
        let result = await work()
        leave(started: started)
        return result
    }

    /// Waits for the turn; false (at once) when `maxWaiting` requests wait already.
    private func enter() async -> Bool {
        await withCheckedContinuation { continuation in
            let wake = state.withLock { state -> Bool? in
                if state.closed { return false }
                if !state.busy, state.waiters.isEmpty, ContinuousClock.now >= state.openAt {
                    state.busy = true
                    return nil
                }
                guard state.waiters.count < maxWaiting else { return false }
                state.waiters.append(continuation)
                guard !state.busy, !state.wakeScheduled else { return true }
                state.wakeScheduled = true
                return true
            }
            switch wake {
            case nil: continuation.resume(returning: true)
            case false?: continuation.resume(returning: false)
            case true?: scheduleWake()
            }
        }
    }

    /// Refuses every waiting and later request (the worker is stopping).
    func close() {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: false) }
    }

    /// Ends a turn begun at `started`: the next may start after a rest `restFactor` times as long as this one took.
    private func leave(started: ContinuousClock.Instant) {
        let wake = state.withLock { state -> Bool in
            let now = ContinuousClock.now
            state.busy = false
            state.openAt = now + (now - started) * restFactor
            guard !state.waiters.isEmpty, !state.wakeScheduled else { return false }
            state.wakeScheduled = true
            return true
        }
        if wake { scheduleWake() }
    }

    /// Hands the turn to the first waiter once the rest is over.
    private func scheduleWake() {
        Task {
            while true {
                let openAt = state.withLock { $0.openAt }
                if ContinuousClock.now < openAt { try? await Task.sleep(until: openAt, clock: .continuous) }
                let next = state.withLock { state -> CheckedContinuation<Bool, Never>?? in
                    guard ContinuousClock.now >= state.openAt else { return .some(nil) }  // moved on meanwhile: sleep again
                    state.wakeScheduled = false
                    guard !state.busy, !state.waiters.isEmpty else { return nil }
                    state.busy = true
                    return .some(state.waiters.removeFirst())
                }
                switch next {
                case nil: return
                case .some(nil): continue
                case .some(let waiter?): waiter.resume(returning: true); return
                }
            }
        }
    }
}
