/// How many jobs a worker claims ahead of its free slots (they start the moment a slot frees, so slots stay
/// busy while the commit of finished jobs is under way).
public enum Prefetch: Sendable, Equatable {
    /// As many as the worker expects to start within two commits, from the measured job and commit times, and at
    /// most `20 × concurrency`: short jobs get a deep reserve, jobs longer than a few commits get none, so a
    /// worker never sits on work a peer could start sooner.
    case auto
    /// Exactly this many (0: none).
    case fixed(Int)

    /// The most `auto` ever claims ahead: per slot, and in all.
    static let autoLimitPerSlot = 20
    static let autoLimit = 1_000
}

/// Sizes the reserve of claimed-ahead jobs from exponentially weighted means of how long jobs run and how long a
/// commit takes.
struct ReserveSizer {
    /// Mean seconds from a job's start to its outcome; nil until one ended.
    private(set) var meanJob: Double?
    /// Mean seconds of a finish-and-claim commit.
    private(set) var meanCommit = 0.002

    mutating func jobRan(seconds: Double) {
        meanJob = meanJob.map { $0 * 0.9 + seconds * 0.1 } ?? seconds
    }

    mutating func committed(seconds: Double) {
        meanCommit = meanCommit * 0.8 + seconds * 0.2
    }

    /// Jobs to hold claimed ahead.
    func target(_ prefetch: Prefetch, concurrency: Int) -> Int {
        switch prefetch {
        case .fixed(let count):
            return count
        case .auto:
            guard let meanJob else { return 0 }
            let limit = min(Prefetch.autoLimitPerSlot * concurrency, Prefetch.autoLimit)
            let startsInTwoCommits = Double(concurrency) * 2 * meanCommit / max(meanJob, 0.000_001)
            return startsInTwoCommits >= Double(limit) ? limit : Int(startsInTwoCommits)
        }
    }
}
