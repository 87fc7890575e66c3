/// What a claim may still start from the queues with a pause or a limit, counted under the claim's lock: the
/// stores fill it from their tables, and a claim asks `admit` for each job it would take, in claim order.
public struct ClaimBudgets: Sendable {
    /// A concurrency key of a queue.
    public struct Key: Hashable, Sendable {
        public var queue: String
        public var key: String

        public init(queue: String, key: String) {
            self.queue = queue
            self.key = key
        }
    }

    /// Jobs each controlled queue may still start (0: paused or full).
    public private(set) var queues: [String: Int] = [:]
    /// The per-key limit of the queues that have one.
    public private(set) var perKey: [String: Int] = [:]
    /// Jobs each key with running jobs may still start.
    public private(set) var keys: [Key: Int] = [:]
    /// The queues whose starts are logged for their rate window, with the number of the last start logged.
    public private(set) var lastStart: [String: Int64] = [:]
    /// When a full rate window frees a slot first (a worker held back only by it waits until then).
    public private(set) var nextSlotAt: Micros?

    public init() {}

    /// Adds a controlled queue: `paused`, or with `budget` starts left (nil: no queue-wide limit) and its per-key
    /// limit; `lastStart` the number of its last logged start when it has a rate limit; `fullUntil` is when its
    /// rate window frees a slot if it is full.
    public mutating func add(queue: String, paused: Bool, budget: Int?, perKey: Int?, lastStart: Int64?, fullUntil: Micros?) {
        queues[queue] = paused ? 0 : max(budget ?? Int.max, 0)
        if let perKey { self.perKey[queue] = perKey }
        if let lastStart { self.lastStart[queue] = lastStart }
        if let fullUntil { nextSlotAt = min(nextSlotAt ?? fullUntil, fullUntil) }
    }

    /// Records `running` jobs of `key` in `queue` (a queue with a per-key limit).
    public mutating func add(running: Int, key: String, queue: String) {
        guard let limit = perKey[queue] else { return }
        keys[Key(queue: queue, key: key)] = max(limit - running, 0)
    }

    /// Whether no queue has a pause or a limit: the claim is as without them.
    public var isEmpty: Bool { queues.isEmpty }

    /// The queues of which nothing may start.
    public var blockedQueues: [String] { queues.filter { $0.value == 0 }.map(\.key).sorted() }
    /// The keys of which nothing may start (in queues not blocked).
    public var blockedKeys: [Key] {
        keys.filter { $0.value == 0 && queues[$0.key.queue] != 0 }.map(\.key).sorted { ($0.queue, $0.key) < ($1.queue, $1.key) }
    }

    /// Whether a job of `queue` with `key` may start, and if so counts it.
    public mutating func admit(queue: String, key: String?) -> Bool {
        guard let left = queues[queue] else { return true }
        guard left > 0 else { return false }
        if let key, let limit = perKey[queue] {
            let id = Key(queue: queue, key: key)
            let keyLeft = keys[id] ?? limit
            guard keyLeft > 0 else { return false }
            keys[id] = keyLeft - 1
        }
        queues[queue] = left == Int.max ? left : left - 1
        return true
    }
}
