import WorkerStore

/// Walks the keyset pages of `filter` the way `worker jobs` does, following each page's `next`, for a store's
/// paging tests.
public enum JobPages {
    /// The ids of every page in order, and each page's size.
    public static func walk(
        _ filter: JobFilter, _ page: (JobFilter) async throws -> JobPage
    ) async throws -> (ids: [Int64], sizes: [Int]) {
        var filter = filter
        var ids: [Int64] = []
        var sizes: [Int] = []
        while true {
            let current = try await page(filter)
            ids += current.jobs.map(\.id)
            sizes.append(current.jobs.count)
            guard let next = current.next else { return (ids, sizes) }
            filter.after = next
        }
    }
}
