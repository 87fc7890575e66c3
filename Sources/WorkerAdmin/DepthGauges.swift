import Journal
import Prometheus
import Synchronization
import WorkerRuntime

/// The gauges read from the journal at each scrape: jobs per queue and unfinished (or dead) state, the age of
/// each queue's oldest queued job, live workers, and the drain's length.
final class DepthGauges: Sendable {
    static var depth: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "worker", metricName: "queue", unitName: "jobs",
        helpText: "Jobs in the journal per queue and state: the unfinished states, and dead (all workers)") }
    static var oldest: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "worker", metricName: "queue_oldest_queued_age", unitName: "seconds",
        helpText: "Seconds the oldest queued job of each queue has been ready to run; 0 when none waits") }
    static var live: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "worker", metricName: "live_workers", unitName: "",
        helpText: "Registered workers whose process is alive (their lock on the journal is held), all hosts") }
    static var drain: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "worker", metricName: "drain_duration", unitName: "seconds",
        helpText: "Seconds since intake stopped (drain or quiet); 0 while it is open") }
    static var ready: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "worker", metricName: "ready", unitName: "",
        helpText: "1 while recovery is done and intake is open (as /readyz)") }

    private let registry: PrometheusCollectorRegistry
    /// Every queue and state reported so far: one that emptied is reported as 0, not left at its last count.
    private let seen = Mutex<Set<[String]>>([])
    /// Every queue whose oldest queued age was reported so far, likewise.
    private let seenQueues = Mutex<Set<String>>([])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func update(_ depths: [QueueDepth]) {
        var now: [[String]: Int] = [:]
        for depth in depths { now[[depth.queue, depth.state.rawValue]] = depth.count }
        let all = seen.withLock { seen in
            seen.formUnion(now.keys)
            return seen
        }
        for key in all {
            registry.makeGauge(descriptor: Self.depth, labels: [("queue", key[0]), ("state", key[1])])
                .set(to: Double(now[key] ?? 0))
        }
    }

    func updateOldest(_ ages: [String: Double]) {
        let all = seenQueues.withLock { seen in
            seen.formUnion(ages.keys)
            return seen
        }
        for queue in all {
            registry.makeGauge(descriptor: Self.oldest, labels: [("queue", queue)]).set(to: ages[queue] ?? 0)
        }
    }

    func updateLive(_ count: Int) {
        registry.makeGauge(descriptor: Self.live).set(to: Double(count))
    }

    func updateDrain(_ readiness: Readiness) {
        let drained = readiness.stoppedFor.map { $0 / .seconds(1) } ?? 0
        registry.makeGauge(descriptor: Self.drain).set(to: drained)
        registry.makeGauge(descriptor: Self.ready).set(to: readiness.isReady ? 1 : 0)
    }
}
