import WorkerStore
import Logging
import PluginHost

/// A job that ended (or was given back) and waits for the next commit.
struct EndedJob {
    let job: Job
    let outcome: JobOutcome
    let started: ContinuousClock.Instant
}

/// Outcomes waiting for the next commit: jobs ending together share one transaction.
struct OutcomeBatch {
    private(set) var ended: [EndedJob] = []
    /// When the oldest waiting outcome arrived.
    private(set) var since: ContinuousClock.Instant?

    var isEmpty: Bool { ended.isEmpty }
    var count: Int { ended.count }

    mutating func add(_ job: Job, _ outcome: JobOutcome, started: ContinuousClock.Instant, at now: ContinuousClock.Instant) {
        if ended.isEmpty { since = now }
        ended.append(EndedJob(job: job, outcome: outcome, started: started))
    }

    /// A job given back before it started (claimed ahead, then a stop or a cancel came): it ran for no time.
    mutating func addUnstarted(_ job: Job, _ outcome: JobOutcome, at now: ContinuousClock.Instant) {
        add(job, outcome, started: now, at: now)
    }

    /// Everything waiting, for one commit.
    mutating func take() -> [EndedJob] {
        defer {
            ended.removeAll()
            since = nil
        }
        return ended
    }

    /// Why a job was cancelled, when it was: decides interrupted (drain) or cancelled (operator).
    enum CancelReason: Equatable {
        case drain(String)
        case operatorRequest
        /// Its attempt ran past its timeout (`Job.effectiveTimeout`).
        case timedOut(Duration)
    }

    /// The error a timed-out attempt fails with: it retries with backoff, or ends dead.
    static func timedOutError(_ limit: Duration) -> String {
        "timed out after \(timeoutText(limit))"
    }

    /// A timeout in whole seconds when it is some ("2s"), else in milliseconds ("1500ms").
    static func timeoutText(_ limit: Duration) -> String {
        let ms = limit.journalMilliseconds
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }

    /// What the journal records for what a plugin reported.
    static func outcome(of reported: PluginOutcome, cancelled: CancelReason?) -> JobOutcome {
        if case .timedOut(let limit) = cancelled, reported != .completed {
            // Whatever the handler made of the cancel (returned cancelled, or threw): the attempt timed out.
            return .failed(error: timedOutError(limit), retryable: true)
        }
        return switch reported {
        case .completed:
            .completed
        case .failed(let message, let permanent):
            .failed(error: message, retryable: !permanent)
        case .refused(let status):
            .failed(error: "the plugin refused to start the job (status \(status))", retryable: true)
        case .cancelled:
            switch cancelled {
            case .drain(let reason): .interrupted(reason: reason)
            case .operatorRequest: .cancelled(reason: "by operator")
            case .timedOut(let limit): .failed(error: timedOutError(limit), retryable: true)
            case nil: .failed(error: "the handler cancelled itself", retryable: true)
            }
        }
    }
}

/// What a worker recorded: jobs claimed, outcomes by state and commits, with a log line and metrics per outcome.
struct OutcomeLedger {
    let logger: Logger
    let metrics: JobMetrics
    private(set) var claimed = 0
    /// Outcomes recorded, by the state each job went to (`interrupted` included: it is not finished).
    private(set) var recorded: [JobState: Int] = [:]
    /// Commits of the loop (finish-and-claim rounds): outcomes over rounds is the jobs each commit carried.
    private(set) var rounds = 0

    init(logger: Logger, metrics: JobMetrics) {
        self.logger = logger
        self.metrics = metrics
    }

    mutating func started(_ job: Job) {
        claimed += 1
        metrics.count(.started, job)
    }

    mutating func roundBegan() { rounds += 1 }

    /// Counts, logs and measures what the journal did with each outcome of `batch`.
    mutating func record(_ batch: [EndedJob], _ results: [Result<JobState, JournalError>], at now: ContinuousClock.Instant) {
        for (item, result) in zip(batch, results) {
            let job = item.job
            let elapsed = now - item.started
            switch result {
            case .success(let state):
                recorded[state, default: 0] += 1
                metrics.ran(job, for: elapsed)
                metrics.count(Self.counted(item.outcome), job)
                logger.info("job \(job.id) \(job.handler) running -> \(state.rawValue) after \(milliseconds(elapsed))\(Self.detail(item.outcome))",
                            metadata: ["job": "\(job.id)"])
            case .failure(let error):
                logger.warning("job \(job.id) \(job.handler): result not recorded: \(error)", metadata: ["job": "\(job.id)"])
            }
        }
    }

    /// What this worker did: jobs claimed, outcomes by state, commits. The last line a worker logs.
    var report: String {
        let order: [JobState] = [.completed, .retrying, .dead, .cancelled, .interrupted]
        let counts = order.compactMap { state in recorded[state].map { "\($0) \(state.rawValue)" } }
        return "\(claimed) claimed, \(counts.isEmpty ? "no outcome recorded" : counts.joined(separator: ", ")) in \(rounds) round(s)"
    }

    private static func counted(_ outcome: JobOutcome) -> JobMetrics.Event {
        switch outcome {
        case .completed: .completed
        case .failed: .failed
        case .interrupted: .interrupted
        case .cancelled: .cancelled
        }
    }

    private static func detail(_ outcome: JobOutcome) -> String {
        switch outcome {
        case .completed: ""
        case .failed(let error, _): ": \(error)"
        case .interrupted(let reason), .cancelled(let reason): ": \(reason)"
        }
    }
}
