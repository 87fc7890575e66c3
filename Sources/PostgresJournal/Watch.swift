import Foundation
import Synchronization
import WorkerStore

extension PostgresJournal {
    /// A watch that calls `wake` when a notification on `worker_jobs` arrives: enqueues and recoveries send one at
    /// their commit (`pg_notify('worker_jobs', queue)`). It listens on the lock session of a worker registered
    /// through this journal, so it arms only once one is; before that the caller polls.
    public func commitWatch(wake: @escaping @Sendable () -> Void) -> (any CommitWatch)? {
        ListenWatch(side: workerSide, location: location, wake: wake)
    }

    /// A number that changes when another process commits new work: the count of notifications heard on the
    /// lock session plus the number of `slowPoll` periods since this journal began. The first makes an idle worker
    /// look at once after an enqueue anywhere; the second makes it look anyway every `slowPoll`, for what sends no
    /// notification (a notification is lost while no session listens; a retry falls due, which `nextRunAt` covers
    /// too). Reading it costs no round trip.
    public func dataVersion() async throws -> Int64 {
        let side = workerSide
        let elapsed = ContinuousClock.now - side.created
        let polls = elapsed.components.seconds / Self.slowPoll.components.seconds
        return side.notifications.load(ordering: .relaxed) &+ polls
    }

    /// How often `dataVersion` changes without a notification.
    static let slowPoll: Duration = .seconds(2)

    /// Why this journal claims no more: it lost the lock session of a worker registered through it (the server
    /// ended it, or it went silent for `LockSession.pingDeadline`), so that worker counts as dead for its peers, who
    /// recover its jobs. Nil while all is well. The process should drain and exit (75) for its supervisor to
    /// restart it.
    public func storageProblem() async -> JournalError? {
        workerSide.lost.withLock { $0 }.map { JournalError(.unavailable, $0) }
    }
}

/// Wakes an idle worker when a notification on `worker_jobs` arrives (see `PostgresJournal.commitWatch`).
final class ListenWatch: CommitWatch {
    private let side: WorkerSide
    private let location: String
    private let wake: @Sendable () -> Void
    private let fired = Atomic<Bool>(false)

    init(side: WorkerSide, location: String, wake: @escaping @Sendable () -> Void) {
        self.side = side
        self.location = location
        self.wake = wake
    }

    var description: String { "notifications on worker_jobs from \(location)" }

    /// Only producers notify (enqueue, retry, recovery); a worker's rounds never do.
    var hearsOwnCommits: Bool { false }

    /// Starts calling `wake` on notifications; false while no lock session of this journal listens.
    func arm() -> Bool {
        guard side.sessions.withLock({ !$0.isEmpty }), side.lost.withLock({ $0 == nil }) else { return false }
        side.watches.withLock { $0[ObjectIdentifier(self)] = self }
        return true
    }

    func disarm() {
        side.watches.withLock { $0[ObjectIdentifier(self)] = nil }
    }

    func takeFired() -> Bool {
        fired.exchange(false, ordering: .acquiringAndReleasing)
    }

    /// A notification arrived while armed.
    func fire() {
        fired.store(true, ordering: .releasing)
        wake()
    }
}
