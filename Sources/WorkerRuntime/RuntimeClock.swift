import WorkerStore

/// The clocks the runtime reads: a monotonic one for deadlines and waits, and the wall clock of the journal's due
/// times. Tests give a manual one, so drain deadlines and due times move only when the test says.
public struct RuntimeClock: Sendable {
    /// The monotonic time now.
    public let now: @Sendable () -> ContinuousClock.Instant
    /// The wall clock (the journal's: due times and backoff are on it).
    public let wall: WallClock
    /// Waits until this clock reaches the given instant; returns early when the task is cancelled. A deadline, not
    /// a duration: a wait armed in a task of its own must not start counting only when that task first runs.
    public let sleep: @Sendable (ContinuousClock.Instant) async -> Void

    /// A clock reading `now` and `wall`, waiting with `sleep`.
    public init(
        now: @escaping @Sendable () -> ContinuousClock.Instant, wall: WallClock,
        sleep: @escaping @Sendable (ContinuousClock.Instant) async -> Void
    ) {
        self.now = now
        self.wall = wall
        self.sleep = sleep
    }

    /// The system's clocks.
    public static let system = RuntimeClock(now: { .now }, wall: .system, sleep: { try? await Task.sleep(until: $0, clock: .continuous) })

    /// The wall-clock time of a monotonic instant, in journal units: for the plugin ABI, which speaks Unix
    /// microseconds. Converted once per deadline, so that plugins and the dispatcher share one deadline.
    public func wallTime(of instant: ContinuousClock.Instant) -> Micros {
        wall.now() + micros(instant - now())
    }
}
