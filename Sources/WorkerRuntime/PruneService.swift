import WorkerStore
import Logging
import ServiceLifecycle

/// Retention inside `worker run` (`--prune-completed-older-than`): deletes completed jobs older than the age at
/// start and then every `pruneInterval`, in short transactions so that claims are not held up.
struct PruneService: Service {
    let journal: any JobStore
    let age: Duration
    let interval: Duration
    let readiness: Readiness
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    if readiness.phase == .ready {
                        do {
                            let pruned = try await Self.prune(journal, olderThan: age, stopping: { readiness.phase != .ready })
                            if pruned > 0 { logger.notice("pruned \(pruned) completed job(s) older than \(Self.describe(age))") }
                        } catch is CancellationError {
                            throw CancellationError()
                        } catch {
                            // Retention is housekeeping: a failed round must not stop the jobs. Real journal
                            // trouble shows in the dispatcher's own writes.
                            logger.warning("prune skipped, tried again in \(Self.describe(interval)): \(error)")
                        }
                    }
                    try await Task.sleep(for: readiness.phase == .starting ? .milliseconds(100) : interval)
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// `90s`, `15m`, `12h`, `30d`: the largest unit that divides the age.
    static func describe(_ age: Duration) -> String {
        let seconds = age.components.seconds
        for (unit, length) in [("d", Int64(86_400)), ("h", 3600), ("m", 60)] where seconds >= length && seconds % length == 0 {
            return "\(seconds / length)\(unit)"
        }
        return "\(seconds)s"
    }

    /// Deletes every completed job that finished more than `age` ago, a batch per transaction; returns how many.
    /// `progress` is told the running total after each batch; `stopping` ends it between batches.
    static func prune(
        _ journal: any JobStore, olderThan age: Duration, batch: Int = 500, stopping: @Sendable () -> Bool = { false },
        progress: (Int) -> Void = { _ in }
    ) async throws -> Int {
        let cutoff = Retention.cutoff(olderThan: age)
        var total = 0
        while !stopping() {
            let pruned = try await journal.pruneCompleted(finishedBefore: cutoff, limit: batch)
            total += pruned
            progress(total)
            if pruned < batch { break }
            await Task.yield()
        }
        return total
    }
}

/// Retention as `worker prune` runs it.
public enum Retention {
    /// Deletes every completed job that finished more than `age` ago; returns how many. See `Journal.pruneCompleted`.
    public static func pruneCompleted(_ journal: any JobStore, olderThan age: Duration, progress: (Int) -> Void = { _ in }) async throws -> Int {
        try await PruneService.prune(journal, olderThan: age, progress: progress)
    }

    /// How many completed jobs `pruneCompleted` would delete now.
    public static func completedCount(_ journal: any JobStore, olderThan age: Duration) async throws -> Int {
        try await journal.completedCount(finishedBefore: cutoff(olderThan: age))
    }

    /// Finished before this is older than `age`.
    static func cutoff(olderThan age: Duration) -> Micros {
        WallClock.system.now() - micros(age)
    }
}
