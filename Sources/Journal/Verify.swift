import WorkerStore
import GRDB

extension Journal {
    /// Checks the file's integrity and the journal's consistency: the schema is whole, each job's state equals
    /// its last event's, events chain (each starts where the previous one ended), no event names a job that does
    /// not exist, and every running job is held by a live worker.
    public func verify(maxFindings: Int = 1000) async throws -> VerifyReport {
        let liveness = self.liveness
        return try await read { db in
            var report = VerifyReport(integrityErrors: [], findings: [], jobsChecked: 0, eventsChecked: 0)
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            if integrity != ["ok"] {
                // Walking damaged tables could report noise or fail: the integrity errors are the finding.
                report.integrityErrors = integrity.flatMap { $0.split(separator: "\n").map(String.init) }
                return report
            }
            // Without its tables the checks below cannot run: what is missing is the finding.
            report.findings = try JournalSchema.missingObjects(db)
            if !report.findings.isEmpty { return report }
            func note(_ finding: String) {
                if report.findings.count < maxFindings { report.findings.append(finding) }
            }
            report.jobsChecked = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs") ?? 0
            report.eventsChecked = try Int.fetchOne(db, sql: "SELECT count(*) FROM job_events") ?? 0

            // Walk events per job in order: the chain must be unbroken and end in the job's state.
            let cursor = try Row.fetchCursor(db, sql: """
                SELECT jobs.id, jobs.state, e.from_state, e.to_state, e.id AS event_id
                FROM jobs LEFT JOIN job_events e ON e.job_id = jobs.id
                ORDER BY jobs.id, e.id
                """)
            var currentJob: Int64?
            var currentState = ""
            var lastTo: String?
            var sawEvent = false
            func closeJob() {
                guard let job = currentJob else { return }
                if !sawEvent {
                    note(VerifyFinding.noEvents(job: job))
                } else if lastTo != currentState {
                    note(VerifyFinding.stateDiffers(job: job, state: currentState, lastEvent: lastTo))
                }
            }
            while let row = try cursor.next() {
                let job: Int64 = try row.decode(forColumn: "id")
                if job != currentJob {
                    closeJob()
                    currentJob = job
                    currentState = try row.decode(forColumn: "state")
                    lastTo = nil
                    sawEvent = false
                }
                guard let eventID: Int64 = try row.decode(forColumn: "event_id") else { continue }
                let from: String? = try row.decode(forColumn: "from_state")
                let to: String = try row.decode(forColumn: "to_state")
                let fromState = from.flatMap(JobState.init(rawValue:))
                if from != lastTo {
                    note(VerifyFinding.brokenChain(job: job, event: eventID, from: from, previous: lastTo))
                } else if let toState = JobState(rawValue: to), from == nil || fromState != nil {
                    if !JobState.canTransition(from: fromState, to: toState) {
                        note(VerifyFinding.illegalTransition(job: job, event: eventID, from: from, to: to))
                    }
                } else {
                    note(VerifyFinding.unknownState(job: job, event: eventID, from: from, to: to))
                }
                sawEvent = true
                lastTo = to
            }
            closeJob()

            // A creation event written for a job that was never inserted (a unique-key enqueue that inserted
            // nothing, followed by an event for last_insert_rowid()) would later be taken for that job's history.
            for row in try Row.fetchAll(db, sql: """
                SELECT job_id, count(*) AS events, min(id) AS first FROM job_events
                WHERE job_id NOT IN (SELECT id FROM jobs) GROUP BY job_id ORDER BY job_id LIMIT ?
                """, arguments: [maxFindings]) {
                let job: Int64 = try row.decode(forColumn: "job_id")
                let count: Int = try row.decode(forColumn: "events")
                let first: Int64 = try row.decode(forColumn: "first")
                note(VerifyFinding.eventsOfMissingJob(job: job, events: count, first: first))
            }

            for row in try Row.fetchAll(db, sql: """
                SELECT jobs.id, jobs.worker_id, workers.stopped_at, workers.id AS registered, workers.rowid AS slot
                FROM jobs LEFT JOIN workers ON workers.id = jobs.worker_id
                WHERE jobs.state = 'running'
                """) {
                let job: Int64 = try row.decode(forColumn: "id")
                let worker: String? = try row.decode(forColumn: "worker_id")
                let slot: Int64? = try row.decode(forColumn: "slot")
                if let finding = try VerifyFinding.running(
                    job: job, worker: worker, registered: try row.decode(String?.self, forColumn: "registered") != nil,
                    stopped: try row.decode(Int64?.self, forColumn: "stopped_at") != nil,
                    live: { try slot.map(liveness.isHeld(slot:)) ?? true }) {
                    note(finding)
                }
            }
            for row in try Row.fetchAll(db, sql: """
                SELECT id, state FROM jobs
                WHERE (state IN ('completed', 'dead', 'cancelled') AND finished_at IS NULL) OR attempts > max_attempts + crashes
                LIMIT ?
                """, arguments: [maxFindings]) {
                note(VerifyFinding.inconsistentCounts(job: try row.decode(forColumn: "id"), state: try row.decode(forColumn: "state")))
            }
            return report
        }
    }
}
