import WorkerStore

/// What `worker resume` found: jobs held by dead workers, and interrupted jobs.
public struct RecoveryPlan: Sendable {
    /// A dead worker and the jobs it held.
    public struct Dead: Sendable {
        public let worker: String
        public let pid: Int32?
        public let jobs: [Job]
    }

    public let dead: [Dead]
    public let interrupted: [Job]

    /// Every job to resume.
    public var jobs: [Job] { dead.flatMap(\.jobs) + interrupted }

    /// Reads the plan from the journal; changes nothing.
    public static func make(journal: any JobStore) async throws -> RecoveryPlan {
        let deadWorkers = try await journal.deadWorkers(except: nil)
        let running = deadWorkers.isEmpty ? [] : try await journal.jobs(JobFilter(state: .running, limit: Int.max))
        let held = Dictionary(grouping: running) { $0.workerID ?? "" }
        let dead = deadWorkers.map { Dead(worker: $0.id, pid: $0.pid, jobs: held[$0.id] ?? []) }
        let interrupted = try await journal.jobs(JobFilter(state: .interrupted, limit: Int.max))
        return RecoveryPlan(dead: dead, interrupted: interrupted)
    }
}
