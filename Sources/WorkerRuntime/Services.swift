import Dispatch
import Foundation
import WorkerStore
import Logging
import PluginHost
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The worker loop as a service: when it returns (drained, or idle with `--exit-when-idle`) the group ends.
/// Every way the group can end drains it first: a graceful shutdown drains (unless a stop is under way), and a
/// cancellation stops at once; either way the jobs in flight are recorded `interrupted`, with the reason, and no
/// crash is counted against them.
struct DispatcherService: Service {
    let dispatcher: Dispatcher
    /// Waits for the sidecars, recovers what dead workers held and opens intake.
    let boot: @Sendable () async throws -> Void

    func run() async throws {
        try await boot()  // also after an early TERM: recovery takes no new work, and the drain then ends at once
        // The loop runs in a task of its own: the journal's writes honour cancellation, and a loop cancelled with
        // the group could record nothing, leaving its jobs to the next boot's recovery as if the worker crashed.
        let loop = Task { [dispatcher] in try await dispatcher.run() }
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await loop.value
            } onGracefulShutdown: { [dispatcher] in
                Task { await dispatcher.drainUnlessStopping(reason: "the worker is shutting down") }
            }
        } onCancel: { [dispatcher] in
            Task { await dispatcher.stop(.immediate(reason: "the worker's services were cancelled")) }
        }
        dispatcher.readiness.enter(.stopping)  // idle with --exit-when-idle, or drained: not ready while exiting
    }
}

/// A sidecar as a service of the worker's group. A sidecar that fails after it started (the admin endpoint's
/// server, say) does not take the jobs down with it: the failure is recorded, the worker drains (in-flight jobs
/// end `interrupted` with the failure as the reason) and then exits with the failure.
struct SidecarService: Service {
    let sidecar: any Sidecar
    let dispatcher: Dispatcher
    let failure: Failure
    let logger: Logger

    func run() async throws {
        do {
            try await sidecar.run()
        } catch {
            guard sidecar.isStarted, !Task.isCancelled else { throw error }  // at boot: no job was touched
            logger.error("\(sidecar.role) failed: \(error); draining")
            failure.record(error)
            await dispatcher.drainUnlessStopping(reason: "\(sidecar.role) failed")
            // Returning now would end the group before the drain is done: wait for the shutdown it brings.
            try? await gracefulShutdown()
        }
    }
}

/// Every `heartbeatInterval`: records that this worker lives, recovers the jobs of peers that died (their
/// kernel lock is free), and passes operators' cancel requests to the dispatcher.
struct HeartbeatService: Service {
    let journal: any JobStore
    let dispatcher: Dispatcher
    let plugins: PluginSet
    let options: WorkerOptions
    let readiness: Readiness
    let supervisor: SupervisorNotifications?
    let metrics: JobMetrics
    /// Where a failure that stopped the worker is kept, for `WorkerProcess` to end with it.
    let failure: Failure
    /// How the worker handles its signals, as it was once the plugins were loaded: put back at each beat when a
    /// plugin's job changed it (see `restoreSignalHandling`).
    let signalHandling: SignalState
    let logger: Logger
    /// The paused queues seen at the last look (every 4th beat), to log each pause and resume once.
    let pausedQueues = PausedQueues()

    /// The heartbeat's period: `heartbeatInterval`, or less so that systemd's watchdog gets two pings per period.
    var interval: Duration {
        guard let watchdog = supervisor?.notifier.watchdogInterval else { return options.heartbeatInterval }
        return min(options.heartbeatInterval, watchdog / 2)
    }

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                var ticks = 0
                while true {
                    try await Task.sleep(for: interval)
                    await restoreSignalHandling()
                    do {
                        if let problem = await journal.storageProblem() { throw problem }
                        try await tick(reportMissing: ticks % 60 == 0)
                        if ticks % 4 == 0, let settings = try? await journal.queueSettings() {  // a log line only: no reason to stop
                            pausedQueues.look(settings, logger: logger)
                        }
                    } catch let error as JournalError where error.code == .busy {
                        // Another process held the write lock past the busy timeout: try again next beat
                        // rather than stop the worker.
                        logger.warning("heartbeat skipped: \(error)")
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        // The journal cannot be written (read-only, full, deleted, corrupt): stop now, so the
                        // process exits with the error instead of running jobs it cannot record.
                        logger.error("stopping: \(error)")
                        failure.record(error)
                        await dispatcher.stop(.immediate(reason: "the journal failed: \(error)"))
                        try await gracefulShutdown()  // a service that returns early would fail the whole group
                        return
                    }
                    ticks += 1
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// A plugin's job may set TERM to SIG_IGN or install its own handler (plugins run in the worker's process):
    /// the worker would then ignore TERM until SIGKILL. Each beat compares the dispositions of the signals the
    /// worker handles with what they were at the start and puts them back, naming the plugins running jobs.
    private func restoreSignalHandling() async {
        guard let change = signalHandling.change(to: .current()) else { return }
        signalHandling.restore()
        let running = await dispatcher.runningPlugins()
        logger.error("a plugin changed \(change) (\(running.isEmpty ? "no job running now" : "running now: \(running)")): put back so that TERM still drains the worker; fix the plugin")
    }

    private func tick(reportMissing: Bool) async throws {
        let worker = dispatcher.worker
        try await journal.heartbeat(worker: worker)
        await supervisor?.beat()  // the journal took the heartbeat and the dispatcher answers: the watchdog's ping
        guard readiness.booted else { return }  // boot recovery is still under way
        let recovered = try await Recovery.recoverDead(
            journal: journal, recoverer: worker, maxCrashes: options.maxCrashes, logger: logger,
            metrics: metrics)
        if recovered.contains(where: { !$0.jobs.isEmpty }) { await dispatcher.nudge() }
        let requests = try await journal.cancelRequests(worker: worker)
        if !requests.isEmpty { await dispatcher.cancelRequested(requests) }
        if reportMissing {
            let missing = try await journal.waitingHandlers(notIn: Set(plugins.handlers))
            if !missing.isEmpty { await dispatcher.reportMissingHandlers(missing) }
        }
    }
}

/// Turns signals into requests: TERM/INT drain (a second one stops at once), QUIT stops at once, TSTP makes the
/// worker quiet, USR1 logs its status.
struct SignalService: Service {
    let signals: UnixSignalsSequence
    let quiet: QuietSignal
    let dispatcher: Dispatcher
    let logger: Logger

    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.handle() }
            group.addTask {
                for await _ in quiet.events.cancelOnGracefulShutdown() {
                    logger.notice("received SIGTSTP")
                    await dispatcher.stop(.quiet)
                }
            }
        }
    }

    private func handle() async {
        var stops = 0
        for await signal in signals.cancelOnGracefulShutdown() {
            switch signal {
            case .sigterm, .sigint:
                stops += 1
                logger.notice("received \(signal)")
                await dispatcher.stop(stops == 1 ? .drain(reason: "\(signal)") : .immediate(reason: "second \(signal)"))
            case .sigquit:
                logger.notice("received \(signal)")
                await dispatcher.stop(.immediate(reason: "\(signal)"))
            case .sigusr1:
                let status = await dispatcher.status()
                logger.notice("\(status)")
            default:
                break
            }
        }
    }
}

/// SIGTSTP, which UnixSignals does not offer, through a Dispatch signal source: Dispatch's handler replaces the
/// default action (stopping the process) once the source is registered, and EarlySignalTrap's before that.
final class QuietSignal: @unchecked Sendable {  // the source is only kept alive here, never touched again
    let events: AsyncStream<Void>
    private let source: any DispatchSourceSignal

    /// Returns once the source is registered, so that a TSTP sent from then on is seen (an early one is sent
    /// again right after: see EarlySignalTrap).
    init() async {
        // No SIG_IGN first: it would discard a TSTP that EarlySignalTrap records until Dispatch installs its handler.
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        events = stream
        let source = DispatchSource.makeSignalSource(signal: SIGTSTP, queue: .global())
        self.source = source
        source.setEventHandler { continuation.yield() }
        await withCheckedContinuation { (registered: CheckedContinuation<Void, Never>) in
            source.setRegistrationHandler { registered.resume() }
            source.resume()
        }
    }
}

/// The first error that made a service stop the worker, rethrown once the group has ended.
final class Failure: Sendable {
    private let error = Mutex<(any Error)?>(nil)

    func record(_ error: any Error) {
        self.error.withLock { if $0 == nil { $0 = error } }
    }

    var recorded: (any Error)? { error.withLock { $0 } }
}
