import Logging
import WorkerStore

/// Takes back, for certain and without waiting, what workers that died were holding: the store knows which are
/// dead (on SQLite their kernel lock is free), and decides and recovers in one transaction.
public enum Recovery {
    /// Recovers every dead worker's running jobs: `interrupted` (attempt counted, crash recorded) or `dead` after
    /// `maxCrashes`. Returns what it recovered.
    public static func recoverDead(
        journal: any JobStore, recoverer: String?, maxCrashes: Int, logger: Logger,
        metrics: JobMetrics = .disabled
    ) async throws -> [RecoveredWorker] {
        let recovered = try await journal.recoverDeadWorkers(recoverer: recoverer, maxCrashes: maxCrashes)
        for dead in recovered {
            for job in dead.jobs {
                metrics.count(.recovered, job)
                logger.notice("job \(job.id) \(job.handler) running -> \(job.state.rawValue): \(dead.reason)", metadata: ["job": "\(job.id)"])
            }
            logger.info("recovered dead worker", metadata: ["worker": "\(dead.worker)", "jobs": "\(dead.jobs.count)"])
        }
        return recovered
    }
}
