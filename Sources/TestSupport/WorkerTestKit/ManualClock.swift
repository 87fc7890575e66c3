import WorkerStore
import WorkerStore
import Synchronization

/// A clock that moves only when a test advances it: a wall clock (journal units) and a monotonic one (for the
/// runtime's deadlines and waits) moving together. Waits on it end when the test advances past their end, or
/// when their task is cancelled.
public final class ManualClock: Sendable {
    private struct Sleeper {
        let id: Int
        let until: Micros
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now: Micros
        var sleepers: [Sleeper] = []
        var nextID = 0
    }

    private let state: Mutex<State>
    private let start: Micros
    /// The monotonic instant the clock started at.
    private let origin = ContinuousClock.now

    /// A clock reading `start` (default: 2026-01-01T00:00:00Z).
    public init(start: Micros = 1_767_225_600_000_000) {
        self.start = start
        state = Mutex(State(now: start))
    }

    /// The time now.
    public var now: Micros { state.withLock { $0.now } }

    /// The monotonic time now.
    public var instant: ContinuousClock.Instant { origin + .microseconds(now - start) }

    /// Moves the clock forward, ending the waits that are then over.
    public func advance(seconds: Double) {
        let due: [Sleeper] = state.withLock { state in
            state.now += Micros((seconds * 1_000_000).rounded())
            let now = state.now
            let due = state.sleepers.filter { $0.until <= now }
            state.sleepers.removeAll { $0.until <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Returns once the clock was advanced by `duration` from now, or when the task is cancelled.
    public func sleep(for duration: Duration) async {
        await sleep(untilMicros: now + Self.micros(duration))
    }

    /// Returns once the clock reached `instant` (on its monotonic scale, `instant`), or when the task is cancelled.
    public func sleep(until instant: ContinuousClock.Instant) async {
        await sleep(untilMicros: start + Self.micros(instant - origin))
    }

    private static func micros(_ duration: Duration) -> Micros {
        duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
    }

    private func sleep(untilMicros until: Micros) async {
        let id: Int = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow: Bool = state.withLock { state in
                    guard until > state.now, !Task.isCancelled else { return true }
                    state.sleepers.append(Sleeper(id: id, until: until, continuation: continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLock { state in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume()
        }
    }

    /// How many waits are under way (for a test to know the code under test is waiting on this clock).
    public var waiting: Int { state.withLock { $0.sleepers.count } }

    /// A `WallClock` reading this clock.
    public var wallClock: WallClock {
        WallClock { [self] in now }
    }
}
