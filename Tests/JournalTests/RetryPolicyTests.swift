import Journal
import WorkerStore
import Testing

@Suite struct RetryPolicyTests {
    @Test func delaysDoubleUpToTheCap() {
        let policy = RetryPolicy(baseSeconds: 1, capSeconds: 10, jitter: 0)
        let delays = (1...6).map { policy.delay(afterFailedAttempts: $0, unit: 0.3) }
        #expect(delays == [1_000_000, 2_000_000, 4_000_000, 8_000_000, 10_000_000, 10_000_000])
        #expect(policy.delay(afterFailedAttempts: 500, unit: 0) == 10_000_000)
    }

    @Test func jitterSpreadsWithinItsBounds() {
        let policy = RetryPolicy(baseSeconds: 4, capSeconds: 100, jitter: 0.25)
        #expect(policy.delay(afterFailedAttempts: 1, unit: 0) == 3_000_000)
        #expect(policy.delay(afterFailedAttempts: 1, unit: 0.5) == 4_000_000)
        #expect(policy.delay(afterFailedAttempts: 1, unit: 0.999_999) == 4_999_998)
    }
}
