import CoreMetrics
import WorkerStore
import Synchronization

/// The worker's job metrics, through swift-metrics: counters of jobs started, completed, failed, interrupted,
/// cancelled and recovered, by handler and queue, and a histogram of job durations. Counters are made once per
/// handler and queue and kept, so counting a job costs a lock and a dictionary lookup.
public final class JobMetrics: Sendable {
    /// How a job's run ended, as counted.
    public enum Event: String, Sendable, CaseIterable {
        case started, completed, failed, interrupted, cancelled, recovered
        /// An attempt ran past its timeout and was cancelled (it then fails, counted as `failed` too).
        case timedOut = "timed_out"
    }

    private struct Key: Hashable {
        let handler: String
        let queue: String
    }

    private struct Series {
        let counters: [Event: Counter]
        let duration: Timer
    }

    let factory: any MetricsFactory  // also makes the schedules' counters (ScheduleService)
    private let series = Mutex<[Key: Series]>([:])

    /// Metrics made by `factory` (e.g. swift-prometheus'); `.disabled` makes none.
    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// No metrics (no `--admin`).
    public static let disabled = JobMetrics(factory: NOOPMetricsHandler.instance)

    /// The names of the metrics, as exported.
    public static func counterName(_ event: Event) -> String { "worker_jobs_\(event.rawValue)_total" }
    public static let durationName = "worker_job_duration_seconds"

    /// Counts `event` for `job`.
    public func count(_ event: Event, _ job: Job) {
        count(event, handler: job.handler, queue: job.queue)
    }

    /// Counts `event` for a job of `handler` in `queue`.
    public func count(_ event: Event, handler: String, queue: String) {
        series(handler, queue).counters[event]?.increment()
    }

    /// Records how long `job` ran, once it ended.
    public func ran(_ job: Job, for duration: Duration) {
        ran(handler: job.handler, queue: job.queue, for: duration)
    }

    /// Records how long a job of `handler` in `queue` ran.
    public func ran(handler: String, queue: String, for duration: Duration) {
        series(handler, queue).duration.recordNanoseconds(
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    private func series(_ handler: String, _ queue: String) -> Series {
        let key = Key(handler: handler, queue: queue)
        if let found = series.withLock({ $0[key] }) { return found }
        let dimensions = [("handler", key.handler), ("queue", key.queue)]
        var counters: [Event: Counter] = [:]
        for event in Event.allCases {
            counters[event] = Counter(label: Self.counterName(event), dimensions: dimensions, factory: factory)
        }
        let made = Series(counters: counters, duration: Timer(label: Self.durationName, dimensions: dimensions, factory: factory))
        return series.withLock { series in
            if let found = series[key] { return found }  // made meanwhile by another thread: keep the first
            series[key] = made
            return made
        }
    }
}
