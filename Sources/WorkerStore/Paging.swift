/// Keyset paging as every store does it: a page is read with one row more than asked for, and that extra row only
/// says whether a next page follows.
extension JobFilter {
    /// Refuses a negative limit (`invalidArgument`).
    public func checkLimit() throws {
        guard limit >= 0 else {
            throw JournalError(.invalidArgument, "limit is \(limit): pass --limit 0 or more")
        }
    }

    /// How many rows to read for a page: one more than `limit` (Int.max when that overflows).
    public var fetchLimit: Int {
        let (fetch, overflow) = limit.addingReportingOverflow(1)
        return overflow ? Int.max : fetch
    }
}

extension JobPage {
    /// The page of `filter` from the rows read with `filter.fetchLimit`: the next cursor is the last job kept when
    /// a row was left over.
    public init(fetched: [Job], filter: JobFilter) {
        guard fetched.count > filter.limit else {
            self.init(jobs: fetched, next: nil)
            return
        }
        let jobs = Array(fetched.prefix(filter.limit))
        self.init(jobs: jobs, next: jobs.last?.id ?? filter.after)
    }
}
