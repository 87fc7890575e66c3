import Synchronization
import Testing
@testable import WorkerAdmin

/// The dashboard's gate: one request at a time, the others in order, and a refusal at once beyond its waiting room.
@Suite struct DashboardGateTests {
    /// What the requests did, and the first one's hold.
    final class Record: Sendable {
        let order = Mutex<[Int]>([])
        let running = Mutex(0)
        let peak = Mutex(0)
        let firstStarted = Mutex(false)
        let release = AsyncStream<Void>.makeStream()

        func request(_ index: Int) async -> Bool {
            let now = running.withLock { $0 += 1; return $0 }
            peak.withLock { $0 = max($0, now) }
            if index == 0 {
                firstStarted.withLock { $0 = true }
                for await _ in release.stream { break }
            }
            order.withLock { $0.append(index) }
            running.withLock { $0 -= 1 }
            return true
        }
    }

    static func send(_ gate: DashboardGate, _ record: Record, _ index: Int) -> Task<Bool, Never> {
        Task { await gate.run(busy: { false }, { await record.request(index) }) }
    }

    @Test func requestsRunOneAtATimeInOrderAndTheOnesBeyondTheWaitingRoomAreRefusedAtOnce() async throws {
        let gate = DashboardGate(maxWaiting: 2)
        let record = Record()
        let first = Self.send(gate, record, 0)
        while !record.firstStarted.withLock({ $0 }) { await Task.yield() }
        var waiting: [Task<Bool, Never>] = []
        for index in 1...2 {
            waiting.append(Self.send(gate, record, index))
            // This one reaches the waiting room before the next arrives: their order is the test's.
            while gate.waitingCount < index { await Task.yield() }
        }
        // The waiting room (2) is full: one more is refused at once, without running.
        #expect(await Self.send(gate, record, 99).value == false)
        record.release.continuation.yield()
        #expect(await first.value)
        for task in waiting { #expect(await task.value) }
        #expect(record.order.withLock { $0 } == [0, 1, 2])
        #expect(record.peak.withLock { $0 } == 1)
        #expect(await Self.send(gate, record, 3).value, "once all is done, a request goes through again")
    }
}
