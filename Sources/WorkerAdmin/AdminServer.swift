import Foundation
import Hummingbird
import HummingbirdCore
import WorkerStore
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import WorkerRuntime

/// The admin endpoint (`worker run --admin HOST:PORT`), served by Hummingbird in the worker's ServiceGroup:
/// - `GET /healthz`: 200 while the process lives (liveness);
/// - `GET /readyz`: 200 once recovery is done and intake is open; 503 before, and from the moment a drain (or
///   quiet) began (readiness);
/// - `GET /metrics`: Prometheus text format: the job counters and durations (`JobMetrics`), jobs per queue and
///   unfinished state, jobs running here, and how long the drain has been going;
/// - the dashboard (`Dashboard`): pages, `/api/` and actions, read-only unless a token is configured.
///
/// It listens before the worker recovers or takes work (a port in use stops the worker before it touches a
/// job), stays up through the drain, and closes its socket before the process exits. Its sockets are marked
/// close-on-exec (`CloseOnExec`), so no child process inherits the port, and bound with SO_REUSEADDR, so a
/// restarted worker binds it again at once. Slow and idle clients are held to `AdminLimits` (header and idle
/// timeouts, a connection cap), so a flood of half-open connections neither pins descriptors nor stalls accepts.
public struct AdminServer: Sidecar {
    let address: AdminAddress
    let readiness: Readiness
    let journal: any JobStore
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let limits: AdminLimits
    let dashboard: Dashboard
    private let gate = StartupGate()
    private let depthGauges: DepthGauges

    /// A server for `address`, exporting `registry` (the one `JobMetrics` was made with), holding its clients to
    /// `limits`, with the dashboard on `journal` as `dashboard` says.
    public init(
        address: AdminAddress, readiness: Readiness, journal: any JobStore, registry: PrometheusCollectorRegistry, logger: Logger,
        limits: AdminLimits = .standard, dashboard: DashboardSettings = DashboardSettings()
    ) throws {
        self.dashboard = try Dashboard(store: journal, settings: dashboard, logger: logger)
        self.address = address
        self.limits = limits
        self.readiness = readiness
        self.journal = journal
        self.registry = registry
        self.logger = logger
        depthGauges = DepthGauges(registry: registry)
    }

    public var role: String { "the admin endpoint" }

    public var isStarted: Bool { gate.isOpen }

    public func started() async throws {
        try await gate.wait()
    }

    public func run() async throws {
        let app = Application(
            router: router(),
            server: HTTPServerBuilder { [limits] responder in
                GuardedHTTP1Channel(inner: HTTP1Channel(responder: responder), limits: limits, table: ConnectionTable(capacity: limits.maxConnections))
            },
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port), serverName: nil, reuseAddress: true),
            onServerRunning: { [gate, logger, dashboard] channel in
                if let port = channel.localAddress?.port, CloseOnExec.markSockets(localPort: port) == 0 {
                    logger.warning("admin endpoint: cannot mark its listening socket close-on-exec")
                }
                logger.notice("admin endpoint listening on \(Self.describe(channel.localAddress)): /healthz /readyz /metrics, the dashboard at / (\(dashboard.modeDescription))")
                gate.open()
            },
            logger: Logger(label: "worker.admin", factory: { _ in SwiftLogNoOpLogHandler() }))
        do {
            // Once the worker's group shuts down (its drain is done), dashboard requests still waiting their turn
            // are refused (503) rather than served, so that none holds up the exit.
            try await withGracefulShutdownHandler {
                try await app.run()
            } onGracefulShutdown: { [dashboard] in
                dashboard.gate.close()
            }
        } catch where gate.isOpen {
            throw WorkerError(.temporary, "the admin endpoint on \(address) failed: \(error)")  // after it listened
        } catch {
            let failure = WorkerError(
                error.isAddressInUse ? .temporary : .config,
                error.isAddressInUse
                    ? "--admin \(address): the address is in use: stop what listens there or pass another port"
                    : "--admin \(address): cannot listen there (\(error)): pass a local address, e.g. 127.0.0.1:9090")
            gate.fail(failure)
            throw failure
        }
        gate.fail(CancellationError())  // stopped before it ever listened
    }

    private func router() -> Router<AdminContext> {
        let router = Router(context: AdminContext.self)
        router.get("healthz") { _, _ in Self.text(.ok, "ok\n") }
        router.get("readyz") { [readiness] _, _ in
            let phase = readiness.phase
            return Self.text(phase == .ready ? .ok : .serviceUnavailable, "\(phase.rawValue)\n")
        }
        router.get("metrics") { [journal, readiness, registry, depthGauges, logger] _, _ in
            do {
                depthGauges.update(try await journal.depth())
                depthGauges.updateOldest(try await journal.oldestQueuedAge())
                depthGauges.updateLive(try await journal.liveWorkerCount())
                depthGauges.updateQueues(try await journal.queues())
            } catch {
                logger.warning("metrics: cannot read queue depths: \(error)")  // the rest of the metrics still count
            }
            depthGauges.updateDrain(readiness)
            var body = ByteBuffer()
            body.writeBytes(registry.emitToBuffer())
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: .init(byteBuffer: body))
        }
        dashboard.register(on: router)
        return router
    }

    /// `127.0.0.1:9090`, `[::1]:9090`.
    private static func describe(_ address: SocketAddress?) -> String {
        guard let address, let ip = address.ipAddress, let port = address.port else { return address.map { "\($0)" } ?? "?" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    private static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

extension Error {
    /// Whether binding failed because the address is taken (EADDRINUSE).
    fileprivate var isAddressInUse: Bool {
        if let error = self as? IOError { return error.errnoCode == EADDRINUSE }
        return "\(self)".contains("Address already in use")
    }
}
