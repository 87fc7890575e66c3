import Synchronization
import WorkerStore

/// The overview's counts, kept for a while after they are read. Exact counts of the unfinished jobs cost what the
/// backlog holds (through the state indexes: a queue of 300,000 waiting jobs takes 0.3-0.8 s to count), and a
/// client refreshing every second must not make the worker pay that every second. They are kept 20 times as long
/// as reading them took, at least 1 s and at most 30 s (so their reading takes at most 5% of one core), and dropped
/// at once by any action taken through this dashboard. The page says when they were read.
final class CountsCache: Sendable {
    struct Counts: Sendable {
        /// When they were read.
        var at: Micros
        var counts: [String: [JobState: Int]]
        var oldestQueued: [String: Double]
    }

    private struct Entry {
        var counts: Counts
        var until: ContinuousClock.Instant
    }

    private let entry = Mutex<Entry?>(nil)

    /// The kept counts while they are fresh enough, else `read()`'s, kept.
    func counts(_ read: () async throws -> Counts) async throws -> Counts {
        let now = ContinuousClock.now
        if let kept = entry.withLock({ $0 }), now < kept.until { return kept.counts }
        let counts = try await read()
        let took = ContinuousClock.now - now
        let keep = min(max(took * 20, .seconds(1)), .seconds(30))
        entry.withLock { $0 = Entry(counts: counts, until: ContinuousClock.now + keep) }
        return counts
    }

    /// Forgets the kept counts (an action changed them).
    func invalidate() {
        entry.withLock { $0 = nil }
    }
}
