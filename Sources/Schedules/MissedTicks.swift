import Foundation

/// What a schedule does with ticks that fell due while no worker looked at it (`--missed`).
///
/// A tick at most the plan's lateness late is never missed: it fires under every policy. Older due ticks are
/// missed; the policy says which of them still get a job.
public enum MissedTicks: String, Sendable, CaseIterable {
    /// No job for a missed tick; they are recorded as missed.
    case skip
    /// One job for the most recent due tick (when none was on time); the older ones are recorded as missed.
    case latest
    /// A job for every missed tick within the catch-up window (at most the plan's limit, the newest kept); older
    /// ones are recorded as missed.
    case all

    /// The policy of a schedule that does not name one.
    public static let `default` = MissedTicks.latest
}

/// The ticks a plan decided not to fire, bounded however long the outage: an exact count, the first and last
/// tick, and the oldest of them up to a cap, for the caller's journal events.
public struct MissedTickSummary: Sendable, Equatable {
    /// How many ticks were missed (exact: counted day by day, never tick by tick).
    public var count: Int
    /// The oldest missed tick.
    public var first: Date?
    /// The newest missed tick.
    public var last: Date?
    /// The oldest missed ticks, oldest first, at most the plan's `missedListLimit` of them.
    public var listed: [Date]

    /// No tick missed.
    public static let none = MissedTickSummary(count: 0, first: nil, last: nil, listed: [])

    /// A summary with its fields.
    public init(count: Int, first: Date?, last: Date?, listed: [Date]) {
        self.count = count
        self.first = first
        self.last = last
        self.listed = listed
    }
}
