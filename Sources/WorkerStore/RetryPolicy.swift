/// How long a failed job waits before its next attempt: exponential with jitter.
///
/// The delay before attempt `n + 1` (after `n` failed attempts) is `min(base * 2^(n-1), cap)`, multiplied by
/// a random factor in `1 - jitter ... 1 + jitter` so that jobs failing together do not retry together.
/// Defaults: base 1 s, cap 1 h, jitter 0.25 — so 1 s, 2 s, 4 s, ... about 17 minutes after the 11th failure.
public struct RetryPolicy: Sendable, Equatable {
    /// The first delay, in seconds.
    public var baseSeconds: Double
    /// The longest delay before jitter, in seconds.
    public var capSeconds: Double
    /// Relative spread of the random factor, 0 (none) to 1.
    public var jitter: Double

    /// A policy; see the type's documentation for the formula.
    public init(baseSeconds: Double = 1, capSeconds: Double = 3600, jitter: Double = 0.25) {
        self.baseSeconds = max(0, baseSeconds)
        self.capSeconds = max(0, capSeconds)
        self.jitter = min(max(0, jitter), 1)
    }

    /// The documented defaults.
    public static let `default` = RetryPolicy()

    /// The delay in microseconds after `failedAttempts` failures, with `unit` a random number in `0..<1`.
    public func delay(afterFailedAttempts failedAttempts: Int, unit: Double) -> Micros {
        let exponent = Double(max(0, failedAttempts - 1))
        let raw = min(baseSeconds * pow2(exponent), capSeconds)
        let factor = 1 - jitter + 2 * jitter * min(max(unit, 0), 1)
        return Micros((raw * factor * 1_000_000).rounded())
    }

    private func pow2(_ exponent: Double) -> Double {
        // Past 2^62 every realistic cap has been reached; avoid overflowing to infinity.
        exponent >= 62 ? Double(Int64.max) : Double(Int64(1) << Int64(exponent))
    }
}
