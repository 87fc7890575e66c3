/// A page of `jobPage(_:)`.
public struct JobPage: Sendable, Equatable {
    /// The jobs, in the filter's order.
    public var jobs: [Job]
    /// The cursor for the next page (`JobFilter.after`) when there are more matching jobs; nil on the last page.
    public var next: Int64?

    /// A page.
    public init(jobs: [Job], next: Int64?) {
        self.jobs = jobs
        self.next = next
    }
}

/// An operator's change to every job a filter selects: `worker retry --state dead --handler H`,
/// `worker cancel --queue Q --state queued`.
public enum BulkChange: String, Sendable {
    case retry
    case cancel

    /// Whether the change applies to a job in `state`, as the single-job command would accept it: retry takes
    /// dead, cancelled and retrying jobs; cancel takes every job not finished (a running one gets a request).
    public func accepts(_ state: JobState) -> Bool {
        switch self {
        case .retry: JobState.retryable.contains(state)
        case .cancel: !state.isFinished
        }
    }
}

/// What a bulk change would do, read without changing anything.
public struct BulkPlan: Sendable {
    public let change: BulkChange
    public let filter: JobFilter
    /// The matching jobs the change accepts, by ascending id, with their state when read.
    public var accepted: [(id: Int64, state: JobState)]
    /// The matching jobs it skips, counted by their state (`completed`, `queued`...).
    public var skipped: [String: Int]
    /// The highest job id when planned: jobs enqueued after the plan are never touched by it.
    public let ceiling: Int64

    /// A plan (stores make it).
    public init(change: BulkChange, filter: JobFilter, accepted: [(id: Int64, state: JobState)], skipped: [String: Int], ceiling: Int64) {
        self.change = change
        self.filter = filter
        self.accepted = accepted
        self.skipped = skipped
        self.ceiling = ceiling
    }

    /// The jobs that match the filter.
    public var matched: Int { accepted.count + skipped.values.reduce(0, +) }
}

/// What a bulk change did.
public struct BulkResult: Sendable, Equatable {
    /// Jobs retried (now `queued`) or cancelled (now `cancelled`).
    public var changed: Int = 0
    /// Running jobs whose worker was asked to stop them (cancel only).
    public var requested: Int = 0
    /// Matching jobs left alone, counted by reason: the state that made them ineligible, `changed meanwhile`
    /// (no longer matching when their batch was written), `key in use` (a retry whose unique key another
    /// unfinished job holds).
    public var skipped: [String: Int] = [:]

    /// A result with these counts.
    public init(changed: Int = 0, requested: Int = 0, skipped: [String: Int] = [:]) {
        self.changed = changed
        self.requested = requested
        self.skipped = skipped
    }
}

extension BulkPlan {
    /// Carries out the plan `size` jobs at a time, in id order: `batch` changes the ids it is given (in one
    /// transaction of its store) and says what it did; the results add up, starting from the jobs the plan
    /// skipped, and `progress` gets the jobs done after each batch.
    public func inBatches(
        of size: Int, progress: (Int) -> Void, _ batch: ([Int64]) async throws -> BulkResult
    ) async throws -> BulkResult {
        var result = BulkResult(skipped: skipped)
        var done = 0
        for start in stride(from: 0, to: accepted.count, by: size) {
            let slice = accepted[start..<min(start + size, accepted.count)].map(\.id)
            let changed = try await batch(slice)
            result.changed += changed.changed
            result.requested += changed.requested
            result.skipped.merge(changed.skipped, uniquingKeysWith: +)
            done += slice.count
            progress(done)
        }
        return result
    }
}
