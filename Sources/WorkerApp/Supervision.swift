import WorkerStore
import Logging
import Prometheus
import WorkerAdmin
import WorkerRuntime

/// What `worker run` and `worker resume` show supervisors: sd_notify when `$NOTIFY_SOCKET` is set, and with
/// `--admin` the health, readiness and metrics endpoint.
struct Supervision {
    let readiness = Readiness()
    let notifier: SystemdNotifier?
    let metrics: JobMetrics
    let sidecars: [any Sidecar]

    /// Reads `$NOTIFY_SOCKET`; with `admin`, makes the Prometheus registry the job metrics go to and the endpoint,
    /// whose dashboard reads and acts through `adminJournal` (the worker's own journal when nil).
    init(admin: AdminAddress?, journal: any JobStore, adminJournal: (any JobStore)?, dashboard: DashboardSettings, logger: Logger) throws {
        notifier = try SystemdNotifier()
        guard let admin else {
            metrics = .disabled
            sidecars = []
            return
        }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Jobs run from a millisecond to many minutes.
        factory.durationHistogramBuckets[JobMetrics.durationName] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(1800),
        ]
        metrics = JobMetrics(factory: factory)
        sidecars = [
            try AdminServer(
                address: admin, readiness: readiness, journal: adminJournal ?? journal, registry: registry, logger: logger, dashboard: dashboard)
        ]
    }

}
