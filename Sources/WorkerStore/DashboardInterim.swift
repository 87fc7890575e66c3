// INTERIM (issue 16, removed before landing): what the dashboard needs of the stores, until both implement it.
extension JobStore {
    public func retry(job id: Int64, by origin: ChangeOrigin) async throws -> Job { try await retry(job: id) }
    public func cancel(job id: Int64, by origin: ChangeOrigin) async throws -> CancelResult { try await cancel(job: id) }
    public func edit(queue: String, _ edit: QueueEdit, by origin: ChangeOrigin) async throws -> QueueSettings {
        try await self.edit(queue: queue, edit)
    }
    public func runSchedule(_ name: String, by origin: ChangeOrigin) async throws -> Job { try await runSchedule(name) }
    public func activity(since: Micros) async throws -> [ActivityMinute] { [] }
    public func workerSummaries(limit: Int) async throws -> [WorkerSummary] {
        var result: [WorkerSummary] = []
        for record in try await overview().workers.prefix(limit) {
            result.append(WorkerSummary(record: record, live: try await isLive(worker: record.registration.id), running: 0))
        }
        return result
    }
}
