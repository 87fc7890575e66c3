import Journal
import Synchronization

/// A wall clock that moves only when a test advances it.
public final class ManualClock: Sendable {
    private let current: Mutex<Micros>

    /// A clock reading `start` (default: 2026-01-01T00:00:00Z).
    public init(start: Micros = 1_767_225_600_000_000) {
        current = Mutex(start)
    }

    /// The time now.
    public var now: Micros { current.withLock { $0 } }

    /// Moves the clock forward.
    public func advance(seconds: Double) {
        current.withLock { $0 += Micros((seconds * 1_000_000).rounded()) }
    }

    /// A `WallClock` reading this clock.
    public var wallClock: WallClock {
        WallClock { [self] in now }
    }
}
