/// Keyset paging as every store does it: a page is read with one row more than asked for, and that extra row only
/// says whether a next page follows.
extension JobFilter {
    /// Refuses a negative limit (`invalidArgument`).
    public func checkLimit() throws {
        guard limit >= 0 else {
            throw JournalError(.invalidArgument, "limit is \(limit): pass --limit 0 or more")
        }
        if let scanLimit, scanLimit < 1 {
            throw JournalError(.invalidArgument, "scan limit is \(scanLimit): pass 1 or more, or none")
        }
    }

    /// Whether a listing bounds its read (`scanLimit` with `search`), and to how many jobs.
    public var scanBound: Int? {
        search == nil ? nil : scanLimit
    }

    /// The filter without its text: what a bounded read counts its jobs among.
    public var withoutSearch: JobFilter {
        var filter = self
        filter.search = nil
        return filter
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

extension JobPage {
    /// The page of `filter` from rows read with `filter.fetchLimit` among the jobs up to `lastScanned` (the last the
    /// scan bound lets it read; nil: the bound lies beyond the last job): when the page did not fill, the next
    /// searches on after `lastScanned`.
    public init(fetched: [Job], filter: JobFilter, scannedThrough lastScanned: Int64?) {
        self.init(fetched: fetched, filter: filter)
        if next == nil, let lastScanned { next = lastScanned }
    }
}
