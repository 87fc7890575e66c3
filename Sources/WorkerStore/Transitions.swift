/// What a worker's report of how a run ended does to the job it holds: the state it moves to, its attempts, its
/// last error and the event's reason. The same on every store, so each store only writes it.
public struct OutcomeTransition: Sendable, Equatable {
    /// What becomes of `lastError`.
    public enum LastError: Sendable, Equatable {
        /// Cleared (the job completed).
        case clear
        /// Replaced with this text (already cut to `Job.errorLimit` bytes).
        case set(String)
        /// Left as it was.
        case keep

        /// The text `set` gives, else nil.
        public var text: String? {
            if case .set(let text) = self { return text }
            return nil
        }
    }

    public let target: JobState
    /// The job's attempts afterwards: a graceful interruption gives its attempt back.
    public let attempts: Int
    public let lastError: LastError
    /// For `retrying`: how long after now the next attempt is due.
    public let retryDelay: Micros?
    /// The event's reason; for `retrying`, the text the due time follows (see `reason(runAt:)`).
    public let reason: String

    /// The transition of a job held with `attempts` of `maxAttempts` when its run ends with `outcome`. A retry's
    /// delay follows `policy`, with `random` (a number in `0..<1`) for its jitter.
    public init(_ outcome: JobOutcome, attempts: Int, maxAttempts: Int, policy: RetryPolicy, random: () -> Double) {
        var after = attempts
        var delay: Micros?
        switch outcome {
        case .completed:
            target = .completed
            lastError = .clear
            reason = "completed"
        case .failed(let message, let retryable):
            let error = boundedText(message, limit: Job.errorLimit)  // a plugin's text: any size
            lastError = .set(error)
            if retryable && attempts < maxAttempts {
                target = .retrying
                delay = policy.delay(afterFailedAttempts: attempts, unit: random())
                reason = "failed: \(error); retry at "
            } else {
                target = .dead
                reason = retryable
                    ? "failed: \(error); attempts exhausted (\(attempts) of \(maxAttempts))"
                    : "failed: \(error); not retryable"
            }
        case .interrupted(let why):
            target = .interrupted
            after = max(0, attempts - 1)
            lastError = .keep
            reason = "interrupted: \(why)"
        case .cancelled(let why):
            target = .cancelled
            lastError = .keep
            reason = "cancelled: \(why)"
        }
        self.attempts = after
        retryDelay = delay
    }

    /// Whether the job ends for good (it gets a `finishedAt`).
    public var finishes: Bool { target.isFinished }

    /// The event's reason when the next attempt is due at `runAt` (only a retry's reason names it).
    public func reason(runAt: Micros) -> String {
        target == .retrying ? reason + iso8601(runAt) : reason
    }
}

/// What recovering a job from a worker that died under it does to the job: the same on every store.
public struct RecoveryTransition: Sendable, Equatable {
    public let target: JobState
    /// The job's crash count afterwards.
    public let crashes: Int
    /// The event's reason.
    public let reason: String
    /// Whether `reason` becomes the job's last error (a poison job: it gives up).
    public let setsLastError: Bool

    /// The transition of a job held `running` by a dead worker: `interrupted` (a crash is counted when
    /// `countsCrash`), `dead` once `maxCrashes` workers died under it, or `cancelled` when an operator had asked to
    /// cancel it. `reason` says why the worker is gone (`RecoveryTransition.died`).
    public init(reason: String, crashes before: Int, cancelRequested: Bool, maxCrashes: Int, countsCrash: Bool = true) {
        crashes = countsCrash ? before + 1 : before
        let poisoned = countsCrash && crashes >= maxCrashes
        target = cancelRequested ? .cancelled : poisoned ? .dead : .interrupted
        self.reason = cancelRequested
            ? "\(reason); an operator had asked to cancel it"
            : poisoned ? "\(reason); a worker died under this job \(crashes) times, giving up (poison job)" : reason
        setsLastError = poisoned && !cancelRequested
    }

    /// Why a dead worker's jobs were taken back.
    public static func died(worker: String, pid: Int32?) -> String {
        "worker \(worker) (pid \(pid.map(String.init) ?? "unknown")) died"
    }

    /// What a dead worker's row records as its stop reason.
    public static func stopReason(_ reason: String) -> String { "died: \(reason)" }
}

/// `text` when it fits in `limit` UTF-8 bytes; else its longest prefix of whole characters that fits with a note
/// of the full length.
public func boundedText(_ text: String, limit: Int) -> String {
    let total = text.utf8.count
    guard total > limit else { return text }
    let note = "… (cut: \(total) bytes)"
    var kept = ""
    var used = note.utf8.count
    for character in text {
        used += character.utf8.count
        if used > limit { break }
        kept.append(character)
    }
    return kept + note
}

extension JournalError {
    /// The fence's refusal of a write by a worker that no longer holds the job (`state` and `holder` are where
    /// the job is now).
    public static func notHeld(job id: Int64, worker: String, state: String, holder: String?) -> JournalError {
        JournalError(
            .notHeld,
            "job \(id) is not running under worker \(worker) (it is \(state)\(holder.map { " under \($0)" } ?? "")): its result was not recorded")
    }
}
