/// A rate limit: at most `limit` starts (claims, resumes included) of a queue's jobs in any `window`.
public struct QueueRate: Sendable, Equatable, CustomStringConvertible {
    public var limit: Int
    /// Kept in whole milliseconds.
    public var window: Duration

    public init(limit: Int, window: Duration) {
        self.limit = limit
        self.window = window
    }

    /// `N/SECONDS`, as `worker queue set --rate` takes it (`20/1`, `5/0.5`).
    public var description: String { "\(limit)/\(Self.seconds(window))" }

    /// Seconds of `duration` without a trailing `.0`.
    static func seconds(_ duration: Duration) -> String {
        let ms = duration.journalMilliseconds
        return ms % 1000 == 0 ? "\(ms / 1000)" : "\(Double(ms) / 1000)"
    }
}

/// What an operator set on a queue: a pause and limits that claims honour across all workers and hosts, and a
/// default timeout per attempt. A queue nobody set anything on has none of them.
public struct QueueSettings: Sendable, Equatable {
    public var name: String
    /// When it was paused; nil while not paused. No worker claims a job of a paused queue.
    public var pausedAt: Micros?
    /// At most this many of its jobs `running` at once.
    public var concurrency: Int?
    /// At most this many starts per window.
    public var rate: QueueRate?
    /// At most this many of its jobs with the same concurrency key `running` at once (jobs without a key: no limit).
    public var perKeyConcurrency: Int?
    /// The timeout of an attempt of a job that has none of its own.
    public var timeout: Duration?
    /// When an operator last changed it; nil for a queue without settings.
    public var updatedAt: Micros?

    public init(
        name: String, pausedAt: Micros? = nil, concurrency: Int? = nil, rate: QueueRate? = nil, perKeyConcurrency: Int? = nil,
        timeout: Duration? = nil, updatedAt: Micros? = nil
    ) {
        self.name = name
        self.pausedAt = pausedAt
        self.concurrency = concurrency
        self.rate = rate
        self.perKeyConcurrency = perKeyConcurrency
        self.timeout = timeout
        self.updatedAt = updatedAt
    }

    /// Whether a claim must look at it (a pause or a limit); the timeout alone does not.
    public var controlsClaims: Bool { pausedAt != nil || concurrency != nil || rate != nil || perKeyConcurrency != nil }

    /// The limits as `worker queue set` flags would set them, e.g. `concurrency=2 rate=20/1 per-key=1 timeout=30`;
    /// `none` when there are none.
    public var limitsDescription: String {
        var parts: [String] = []
        if let concurrency { parts.append("concurrency=\(concurrency)") }
        if let rate { parts.append("rate=\(rate)") }
        if let perKeyConcurrency { parts.append("per-key-concurrency=\(perKeyConcurrency)") }
        if let timeout { parts.append("timeout=\(QueueRate.seconds(timeout))") }
        return parts.isEmpty ? "none" : parts.joined(separator: " ")
    }
}

/// A change of a queue's limits: each field nil leaves the setting as it is, `.some(nil)` clears it, a value sets it.
public struct QueueChange: Sendable, Equatable {
    public var concurrency: Int??
    public var rate: QueueRate??
    public var perKeyConcurrency: Int??
    public var timeout: Duration??

    public init(concurrency: Int?? = nil, rate: QueueRate?? = nil, perKeyConcurrency: Int?? = nil, timeout: Duration?? = nil) {
        self.concurrency = concurrency
        self.rate = rate
        self.perKeyConcurrency = perKeyConcurrency
        self.timeout = timeout
    }

    /// Whether it changes nothing.
    public var isEmpty: Bool { concurrency == nil && rate == nil && perKeyConcurrency == nil && timeout == nil }

    /// `settings` with the change applied.
    public func applied(to settings: QueueSettings) -> QueueSettings {
        var result = settings
        if let concurrency { result.concurrency = concurrency }
        if let rate { result.rate = rate }
        if let perKeyConcurrency { result.perKeyConcurrency = perKeyConcurrency }
        if let timeout { result.timeout = timeout }
        return result
    }

    /// Refuses values the journal cannot hold, naming the flag and the fix (`invalidArgument`), and an empty change.
    public func validate() throws {
        if isEmpty {
            throw JournalError(.invalidArgument, "nothing to set: pass --concurrency, --rate, --per-key-concurrency or --timeout")
        }
        if case .some(.some(let n)) = concurrency, !(1...1_000_000).contains(n) {
            throw JournalError(.invalidArgument, "concurrency \(n) is out of range: pass 1 to 1000000, or none to clear it")
        }
        if case .some(.some(let n)) = perKeyConcurrency, !(1...1_000_000).contains(n) {
            throw JournalError(.invalidArgument, "per-key concurrency \(n) is out of range: pass 1 to 1000000, or none to clear it")
        }
        if case .some(.some(let rate)) = rate {
            if !(1...1_000_000).contains(rate.limit) {
                throw JournalError(.invalidArgument, "rate \(rate.limit) per window is out of range: pass 1 to 1000000 starts, e.g. --rate 20/1")
            }
            if rate.window < .milliseconds(1) || rate.window > .seconds(86_400) {
                throw JournalError(.invalidArgument, "rate window is out of range: pass 0.001 to 86400 seconds, e.g. --rate 20/1")
            }
        }
        if case .some(.some(let timeout)) = timeout, !Validation.isTimeout(timeout) {
            throw JournalError(.invalidArgument, "timeout is out of range: pass more than 0 and at most 604800 seconds (7 days), or none")
        }
    }
}

/// A queue as `worker queue list` shows it: its settings (all nil when none) and its jobs.
public struct QueueInfo: Sendable, Equatable {
    public var settings: QueueSettings
    /// Jobs `queued` or `retrying` (waiting to be claimed).
    public var waiting: Int
    public var running: Int
    /// Jobs `scheduled` for later.
    public var scheduled: Int
    /// Jobs `interrupted` (waiting to resume).
    public var interrupted: Int

    public init(settings: QueueSettings, waiting: Int, running: Int, scheduled: Int, interrupted: Int) {
        self.settings = settings
        self.waiting = waiting
        self.running = running
        self.scheduled = scheduled
        self.interrupted = interrupted
    }
}

/// An operator's change of a queue as the journal's `queue_events` table keeps it, for audit.
public enum QueueAction: String, Sendable {
    case paused, resumed, set
}

/// What `pause`, `resume` and `set` do to a queue's settings, the same on every store.
public enum QueueEdit: Sendable {
    case pause, resume
    case set(QueueChange)

    /// The action its audit event names.
    public var action: QueueAction {
        switch self {
        case .pause: .paused
        case .resume: .resumed
        case .set: .set
        }
    }

    /// Refuses a change the journal cannot hold (`QueueChange.validate`).
    public func validate(queue: String) throws {
        try Validation.name(queue, what: "queue")
        if case .set(let change) = self { try change.validate() }
    }

    /// `settings` after the edit at `now` (a paused queue keeps the time it was first paused).
    public func applied(to settings: QueueSettings, at now: Micros) -> QueueSettings {
        var result = settings
        switch self {
        case .pause: result.pausedAt = settings.pausedAt ?? now
        case .resume: result.pausedAt = nil
        case .set(let change): result = change.applied(to: settings)
        }
        return result
    }

    /// Whether idle workers should look again (a resume, or limits that may have been raised).
    public var mayFreeJobs: Bool {
        if case .pause = self { return false }
        return true
    }
}

extension JobStore {
    /// Pauses `queue` (see `edit(queue:_:)`).
    public func pause(queue: String) async throws -> QueueSettings { try await edit(queue: queue, .pause) }
    /// Resumes `queue` (see `edit(queue:_:)`).
    public func resume(queue: String) async throws -> QueueSettings { try await edit(queue: queue, .resume) }
    /// Sets or clears `queue`'s limits (see `edit(queue:_:)`).
    public func set(queue: String, _ change: QueueChange) async throws -> QueueSettings { try await edit(queue: queue, .set(change)) }
    /// Every queue that has jobs not finished or settings, by name, with its settings and counts.
    public func queues() async throws -> [QueueInfo] {
        QueueInfo.listing(settings: try await queueSettings(), depth: try await depth())
    }
}

extension QueueSettings {
    /// The audit text of `action` leaving the queue with these settings (the `detail` column of `queue_events`).
    public func auditDetail(_ action: QueueAction) -> String {
        switch action {
        case .paused: "paused"
        case .resumed: "resumed"
        case .set: "limits: \(limitsDescription)"
        }
    }
}

extension QueueInfo {
    /// Every queue of `settings` or `depth` (with unfinished jobs), by name, with its counts.
    public static func listing(settings: [QueueSettings], depth: [QueueDepth]) -> [QueueInfo] {
        var byName: [String: QueueInfo] = [:]
        for setting in settings {
            byName[setting.name] = QueueInfo(settings: setting, waiting: 0, running: 0, scheduled: 0, interrupted: 0)
        }
        for row in depth where !row.state.isFinished {
            var info = byName[row.queue] ?? QueueInfo(settings: QueueSettings(name: row.queue), waiting: 0, running: 0, scheduled: 0, interrupted: 0)
            switch row.state {
            case .queued, .retrying: info.waiting += row.count
            case .running: info.running += row.count
            case .scheduled: info.scheduled += row.count
            case .interrupted: info.interrupted += row.count
            default: break
            }
            byName[row.queue] = info
        }
        return byName.values.sorted { $0.settings.name < $1.settings.name }
    }
}
