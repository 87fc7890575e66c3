import WorkerStore
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

    static var paused: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "worker", metricName: "queue_paused", unitName: "",
        helpText: "1 while the queue is paused (`worker queue pause`): no worker claims its jobs") }
    static var limit: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "worker", metricName: "queue_limit", unitName: "",
        helpText: "The queue's limits (`worker queue set`) by kind: concurrency and per_key_concurrency in jobs, rate in starts per rate_window_seconds; 0 when not set") }

    private let registry: PrometheusCollectorRegistry
    /// Every series (metric name and label values) reported so far: one that emptied is reported as 0, not left
    /// at its last value.
    private let seen = Mutex<Set<[String]>>([])

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func update(_ depths: [QueueDepth]) {
        var now: [[String]: Double] = [:]
        for depth in depths { now[[depth.queue, depth.state.rawValue]] = Double(depth.count) }
        set(Self.depth, labels: ["queue", "state"], now)
    }

    /// The pause and the limits of every queue with settings or unfinished jobs.
    func updateQueues(_ queues: [QueueInfo]) {
        var paused: [[String]: Double] = [:]
        var limits: [[String]: Double] = [:]
        for info in queues {
            let settings = info.settings
            paused[[settings.name]] = settings.pausedAt == nil ? 0 : 1
            limits[[settings.name, "concurrency"]] = settings.concurrency.map(Double.init) ?? 0
            limits[[settings.name, "per_key_concurrency"]] = settings.perKeyConcurrency.map(Double.init) ?? 0
            limits[[settings.name, "rate"]] = settings.rate.map { Double($0.limit) } ?? 0
            limits[[settings.name, "rate_window_seconds"]] = settings.rate.map { $0.window / .seconds(1) } ?? 0
        }
        set(Self.paused, labels: ["queue"], paused)
        set(Self.limit, labels: ["queue", "kind"], limits)
    }

    func updateOldest(_ ages: [String: Double]) {
        set(Self.oldest, labels: ["queue"], Dictionary(uniqueKeysWithValues: ages.map { ([$0.key], $0.value) }))
    }

    /// Sets the gauge `descriptor` of every series in `values` (label values, in the order of `labels`), and 0 for
    /// each series reported before that `values` no longer has.
    private func set(_ descriptor: MetricNameDescriptor, labels: [String], _ values: [[String]: Double]) {
        let name = descriptor.metricName
        let all = seen.withLock { seen in
            seen.formUnion(values.keys.map { [name] + $0 })
            return seen.filter { $0.first == name }
        }
        for series in all {
            let key = Array(series.dropFirst())
            registry.makeGauge(descriptor: descriptor, labels: Array(zip(labels, key))).set(to: values[key] ?? 0)
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
