import Synchronization

/// Whether the worker is draining, and until when: what plugins see through the `drain_state` service.
public final class DrainSignal: Sendable {
    private let draining = Atomic<Bool>(false)
    private let deadline = Atomic<Int64>(0)

    /// Not draining.
    public init() {}

    /// Marks the drain begun; `deadlineMicros` is when unfinished jobs will be cancelled (Unix microseconds).
    public func begin(deadlineMicros: Int64) {
        deadline.store(deadlineMicros, ordering: .relaxed)
        draining.store(true, ordering: .releasing)
    }

    /// Whether a drain began, and its deadline (0 when none).
    public var state: (draining: Bool, deadlineMicros: Int64) {
        let isDraining = draining.load(ordering: .acquiring)
        return (isDraining, isDraining ? deadline.load(ordering: .relaxed) : 0)
    }
}
