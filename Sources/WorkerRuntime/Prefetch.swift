/// How many jobs a worker claims ahead of its free slots (they start the moment a slot frees, so slots stay
/// busy while the commit of finished jobs is under way).
public enum Prefetch: Sendable, Equatable {
    /// Per handler, from the measured job and commit times: only handlers whose jobs start within two commits,
    /// as many as start within two commits, at most `20 × concurrency` (and 1,000). Short jobs get a deep
    /// reserve, long jobs none, so a worker never sits on work a peer could start sooner.
    case auto
    /// Exactly this many (0: none).
    case fixed(Int)

    /// The most `auto` ever claims ahead: per slot, and in all.
    static let autoLimitPerSlot = 20
    static let autoLimit = 1_000
}

/// What to claim ahead: how many jobs, and of which handlers (nil: any).
struct ReservePlan: Equatable {
    var count: Int
    var handlers: [String]?

    static let none = ReservePlan(count: 0, handlers: [])
}

/// Sizes the reserve of claimed-ahead jobs from exponentially weighted means of how long each handler's jobs
/// run and how long a commit takes. Only handlers whose jobs are short enough to start within two commits are
/// claimed ahead, so a burst of short jobs never makes the worker hoard the long ones queued behind them.
struct ReserveSizer {
    /// Mean seconds from a job's start to its outcome, per handler.
    private(set) var meanJob: [String: Double] = [:]
    /// Mean seconds of a finish-and-claim commit.
    private(set) var meanCommit = 0.002

    mutating func jobRan(_ handler: String, seconds: Double) {
        meanJob[handler] = meanJob[handler].map { $0 * 0.9 + seconds * 0.1 } ?? seconds
    }

    mutating func committed(seconds: Double) {
        meanCommit = meanCommit * 0.8 + seconds * 0.2
    }

    /// What to hold claimed ahead.
    func plan(_ prefetch: Prefetch, concurrency: Int) -> ReservePlan {
        switch prefetch {
        case .fixed(let count):
            return ReservePlan(count: count, handlers: nil)
        case .auto:
            let limit = min(Prefetch.autoLimitPerSlot * concurrency, Prefetch.autoLimit)
            var count = limit
            var handlers: [String] = []
            for (handler, mean) in meanJob.sorted(by: { $0.key < $1.key }) {
                // Jobs of this handler the slots would start within two commits, were they all running them.
                let starts = Double(concurrency) * 2 * meanCommit / max(mean, 0.000_001)
                guard starts >= 1 else { continue }
                handlers.append(handler)
                count = min(count, starts >= Double(limit) ? limit : Int(starts))
            }
            return handlers.isEmpty ? .none : ReservePlan(count: count, handlers: handlers)
        }
    }
}
