import Testing
@testable import PostgresJournal

/// `Signal`, the bounded wait behind the lock session's start and `PostgresJournal.close()`: it says whether the
/// event came or the bound passed, and a wait never outlives its bound.
@Suite struct SignalTests {
    @Test func aWaitEndsAtItsBoundAndSaysSo() async {
        let signal = Signal()
        let began = ContinuousClock.now
        #expect(await signal.wait(atMost: .milliseconds(50)) == false)
        #expect(ContinuousClock.now - began >= .milliseconds(50))
    }

    @Test func aSignalFiredBeforeTheWaitEndsItAtOnce() async {
        let signal = Signal()
        signal.fire()
        #expect(await signal.wait(atMost: .seconds(600)) == true)
    }

    @Test func aSignalFiredDuringTheWaitEndsEveryWaiter() async {
        let signal = Signal()
        async let first = signal.wait(atMost: .seconds(600))
        async let second = signal.wait(atMost: .seconds(600))
        try? await Task.sleep(for: .milliseconds(20))
        signal.fire()
        #expect(await first == true)
        #expect(await second == true)
    }
}
