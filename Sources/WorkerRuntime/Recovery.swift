import Journal
import Logging

/// A dead worker found at boot or by a live peer, and the jobs taken back from it.
public struct RecoveredWorker: Sendable {
    public let worker: String
    public let pid: Int32?
    public let jobs: [Job]
}

/// Takes back, for certain and without waiting, what workers that died were holding: the journal knows which
/// are dead (their kernel lock is free).
public enum Recovery {
    /// Recovers every dead worker's running jobs: `interrupted` (attempt counted, crash recorded) or `dead` after
    /// `maxCrashes`. Returns what it recovered.
    public static func recoverDead(
        journal: Journal, recoverer: String?, maxCrashes: Int, logger: Logger,
        metrics: JobMetrics = .disabled
    ) async throws -> [RecoveredWorker] {
        var recovered: [RecoveredWorker] = []
        for dead in try await journal.deadWorkers(except: recoverer) {
            let reason = "worker \(dead.id) (pid \(dead.pid.map(String.init) ?? "unknown")) died"
            let jobs = try await journal.recoverOrphans(of: dead.id, by: recoverer, reason: reason, maxCrashes: maxCrashes)
            for job in jobs {
                metrics.count(.recovered, job)
                logger.notice("job \(job.id) \(job.handler) running -> \(job.state.rawValue): \(reason)", metadata: ["job": "\(job.id)"])
            }
            logger.info("recovered dead worker", metadata: ["worker": "\(dead.id)", "jobs": "\(jobs.count)"])
            recovered.append(RecoveredWorker(worker: dead.id, pid: dead.pid, jobs: jobs))
        }
        return recovered
    }
}
