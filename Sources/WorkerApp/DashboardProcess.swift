import Logging
import Prometheus
import ServiceLifecycle
import WorkerAdmin
import WorkerRuntime
import WorkerStore

/// `worker dashboard`: the admin endpoint alone (dashboard, health, metrics of the journal) on a journal, running
/// no jobs, until TERM, INT or QUIT.
public enum DashboardProcess {
    public static func run(
        journal: any JobStore, address: AdminAddress, settings: DashboardSettings, signals: TrappedSignals, logger: Logger
    ) async throws {
        let readiness = Readiness()
        readiness.readyWithoutWorker()
        let server = try AdminServer(
            address: address, readiness: readiness, journal: journal, registry: PrometheusCollectorRegistry(), logger: logger,
            dashboard: settings)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: server)], logger: Logger(label: "worker.services", factory: { _ in SwiftLogNoOpLogHandler() })))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask {
                await signals.stopRequested()
                guard !Task.isCancelled else { return }  // the server ended first (it failed to start)
                logger.notice("dashboard: stopping")
                await group.triggerGracefulShutdown()
            }
            try await tasks.next()
            tasks.cancelAll()
        }
    }
}
