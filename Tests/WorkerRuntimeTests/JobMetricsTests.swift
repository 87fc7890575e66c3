import CoreMetrics
import Foundation
import Synchronization
import Testing
import WorkerRuntime

@Suite struct JobMetricsTests {
    @Test func countsByHandlerAndQueueAndMakesEachSeriesOnce() {
        let factory = CountingFactory()
        let metrics = JobMetrics(factory: factory)
        for id in 0..<100 {
            let handler = id % 2 == 0 ? "a" : "b"
            metrics.count(.started, handler: handler, queue: "q")
            metrics.count(.completed, handler: handler, queue: "q")
            metrics.ran(handler: handler, queue: "q", for: .milliseconds(3))
        }
        metrics.count(.recovered, handler: "a", queue: "other")
        // Two handlers in one queue and one in another: three series of a counter per event and a timer each, made
        // once (making them per job cost a fifth of the worker's throughput).
        #expect(factory.made.withLock { $0 } == 3 * (JobMetrics.Event.allCases.count + 1))
        #expect(factory.value("worker_jobs_started_total", "a", "q") == 50)
        #expect(factory.value("worker_jobs_completed_total", "b", "q") == 50)
        #expect(factory.value("worker_jobs_recovered_total", "a", "other") == 1)
        #expect(factory.value("worker_jobs_failed_total", "a", "q") == 0)
        #expect(factory.timings.withLock { $0 } == 100)
    }
}

/// A metrics factory that counts what it makes and sums what its counters are told.
final class CountingFactory: MetricsFactory, Sendable {
    let made = Mutex(0)
    let timings = Mutex(0)
    let sums = Mutex<[String: Int64]>([:])

    func value(_ label: String, _ handler: String, _ queue: String) -> Int64 {
        sums.withLock { $0["\(label) \(handler) \(queue)"] ?? 0 }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        made.withLock { $0 += 1 }
        return Handler(key: "\(label) \(dimensions.map(\.1).joined(separator: " "))", factory: self)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        NOOPMetricsHandler.instance
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        NOOPMetricsHandler.instance
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        made.withLock { $0 += 1 }
        return Handler(key: label, factory: self)
    }

    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    final class Handler: CounterHandler, TimerHandler, Sendable {
        let key: String
        let factory: CountingFactory

        init(key: String, factory: CountingFactory) {
            self.key = key
            self.factory = factory
        }

        func increment(by amount: Int64) { factory.sums.withLock { $0[key, default: 0] += amount } }
        func reset() {}
        func recordNanoseconds(_ duration: Int64) { factory.timings.withLock { $0 += 1 } }
    }
}
