import Foundation
import Logging
import Synchronization

/// What the worker tells systemd through sd_notify: READY=1 once recovery is done, STATUS= as it works,
/// STOPPING=1 and EXTEND_TIMEOUT_USEC= while it drains, and WATCHDOG=1 on every heartbeat the journal took.
final class SupervisorNotifications: Sendable {
    let notifier: SystemdNotifier
    private let readiness: Readiness
    private let dispatcher: Dispatcher
    private let logger: Logger
    private let lastStatus = Mutex<String?>(nil)

    init(notifier: SystemdNotifier, readiness: Readiness, dispatcher: Dispatcher, logger: Logger) {
        self.notifier = notifier
        self.readiness = readiness
        self.dispatcher = dispatcher
        self.logger = logger
        readiness.observe { [self] phase in changed(to: phase) }
    }

    private func changed(to phase: Readiness.Phase) {
        switch phase {
        case .starting:
            return
        case .ready:
            send(["READY=1", "STATUS=ready: intake open", "MAINPID=\(getpid())"])
        case .quiet:
            send(["STATUS=quiet: intake stopped (SIGTSTP), in-flight jobs keep running"])
        case .draining, .stopping:
            send(["STOPPING=1", "STATUS=\(phase.rawValue): intake stopped"] + extendTimeout())
        }
    }

    /// A heartbeat was recorded: pings the watchdog, keeps extending the stop timeout while draining, and
    /// updates STATUS when it changed.
    func beat() async {
        var fields: [String] = []
        if notifier.watchdogInterval != nil { fields.append("WATCHDOG=1") }
        let phase = readiness.phase
        if phase == .draining || phase == .stopping { fields += extendTimeout() }
        let status = await dispatcher.summary()
        if lastStatus.withLock({ last in defer { last = status }; return last != status }) {
            fields.append("STATUS=\(status)")
        }
        if !fields.isEmpty { send(fields) }
    }

    /// How long systemd should wait for the exit: what the drain still needs, as the worker reckons it.
    private func extendTimeout() -> [String] {
        guard let left = readiness.exitWithin else { return [] }
        let micros = left.components.seconds * 1_000_000 + left.components.attoseconds / 1_000_000_000_000
        return ["EXTEND_TIMEOUT_USEC=\(max(micros, 1))"]
    }

    private func send(_ fields: [String]) {
        if !notifier.notify(fields) {
            logger.debug("sd_notify to \(notifier.address) failed: \(fields.joined(separator: ", "))")
        }
    }
}
