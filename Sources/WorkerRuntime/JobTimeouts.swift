import Foundation
import PluginHost
import Synchronization

/// The deadlines of the running jobs that have a timeout (`Job.effectiveTimeout`): when each is cancelled, and
/// when the grace it then gets to checkpoint and return runs out. Jobs without a timeout are not tracked, so they
/// cost nothing here.
struct JobTimeouts {
    struct Entry {
        let limit: Duration
        let deadline: ContinuousClock.Instant
        /// Set once the job was cancelled for its timeout.
        var graceEnd: ContinuousClock.Instant?
        let fence: JobFence
    }

    private(set) var entries: [Int64: Entry] = [:]

    mutating func started(_ id: Int64, limit: Duration, at now: ContinuousClock.Instant, fence: JobFence) {
        entries[id] = Entry(limit: limit, deadline: now + limit, graceEnd: nil, fence: fence)
    }

    mutating func ended(_ id: Int64) {
        entries[id] = nil
    }

    /// The jobs whose timeout passed and that were not cancelled for it yet, with their limits; each gets `grace`
    /// from now.
    mutating func due(at now: ContinuousClock.Instant, grace: Duration) -> [(id: Int64, limit: Duration)] {
        var due: [(id: Int64, limit: Duration)] = []
        for (id, entry) in entries where entry.graceEnd == nil && entry.deadline <= now {
            entries[id]?.graceEnd = now + grace
            due.append((id, entry.limit))
        }
        return due.sorted { $0.id < $1.id }
    }

    /// The jobs whose grace ran out, removed (with their fences revoked): the worker gives up on them.
    mutating func overdue(at now: ContinuousClock.Instant) -> [(id: Int64, limit: Duration)] {
        var overdue: [(id: Int64, limit: Duration)] = []
        for (id, entry) in entries {
            guard let end = entry.graceEnd, end <= now else { continue }
            entry.fence.revoke()
            entries[id] = nil
            overdue.append((id, entry.limit))
        }
        return overdue.sorted { $0.id < $1.id }
    }

    /// When the next deadline or grace end comes, if any.
    var nextEvent: ContinuousClock.Instant? {
        entries.values.map { $0.graceEnd ?? $0.deadline }.min()
    }
}

/// Cuts off a run of a job the worker gave up on (its handler ignored the cancel past the grace): the run's
/// late outcome is dropped, and its checkpoints and steps are refused as no longer held, even once the same job
/// runs again on this worker.
final class JobFence: Sendable {
    private let revoked = Atomic<Bool>(false)

    var isRevoked: Bool { revoked.load(ordering: .acquiring) }

    func revoke() { revoked.store(true, ordering: .releasing) }
}

/// A run's job services behind its fence.
struct FencedJobServices: JobServices {
    let base: any JobServices
    let fence: JobFence

    func checkpoint(job: Int64, data: Data) throws(JobServiceError) {
        guard !fence.isRevoked else { throw .notHeld }
        try base.checkpoint(job: job, data: data)
    }

    func beginStep(job: Int64, name: String) throws(JobServiceError) -> Data? {
        guard !fence.isRevoked else { throw .notHeld }
        return try base.beginStep(job: job, name: name)
    }

    func commitStep(job: Int64, name: String, result: Data) throws(JobServiceError) {
        guard !fence.isRevoked else { throw .notHeld }
        try base.commitStep(job: job, name: name, result: result)
    }

    func failStep(job: Int64, name: String, error: String) throws(JobServiceError) {
        guard !fence.isRevoked else { throw .notHeld }
        try base.failStep(job: job, name: name, error: error)
    }
}
