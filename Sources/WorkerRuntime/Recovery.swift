import Journal
import Logging

/// A dead worker found at boot or by a live peer, and the jobs taken back from it.
public struct RecoveredWorker: Sendable {
    public let worker: String
    public let pid: Int32?
    public let jobs: [Job]
}

/// Finds, for certain and without waiting, workers that died holding jobs: their kernel lock is free.
public enum Recovery {
    /// Workers other than `except` that are registered live or hold running jobs, and whose lock is free.
    public static func deadWorkers(journal: Journal, lockDirectory: String, except: String?) async throws -> [(id: String, pid: Int32?)] {
        let live = try await journal.liveWorkers()
        var candidates: [String: Int32?] = [:]
        for worker in live { candidates[worker.registration.id] = worker.registration.pid }
        for id in try await journal.workersHoldingJobs() where candidates[id] == nil {
            candidates[id] = try await journal.workerRecord(id)?.registration.pid
        }
        return candidates
            .filter { $0.key != except && WorkerLock.isDead(directory: lockDirectory, worker: $0.key) }
            .map { (id: $0.key, pid: $0.value) }
            .sorted { $0.id < $1.id }
    }

    /// Recovers every dead worker's running jobs: `interrupted` (attempt counted, crash recorded) or `dead` after
    /// `maxCrashes`. Returns what it recovered.
    public static func recoverDead(
        journal: Journal, lockDirectory: String, recoverer: String?, maxCrashes: Int, logger: Logger,
        metrics: JobMetrics = .disabled
    ) async throws -> [RecoveredWorker] {
        var recovered: [RecoveredWorker] = []
        for dead in try await deadWorkers(journal: journal, lockDirectory: lockDirectory, except: recoverer) {
            let reason = "worker \(dead.id) (pid \(dead.pid.map(String.init) ?? "unknown")) died"
            let jobs = try await journal.recoverOrphans(of: dead.id, by: recoverer, reason: reason, maxCrashes: maxCrashes)
            WorkerLock.remove(directory: lockDirectory, worker: dead.id)
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
