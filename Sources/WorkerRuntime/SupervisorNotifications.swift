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
    private let readySent = Mutex(false)

    init(notifier: SystemdNotifier, readiness: Readiness, dispatcher: Dispatcher, logger: Logger) {
        self.notifier = notifier
        self.readiness = readiness
        self.dispatcher = dispatcher
        self.logger = logger
        readiness.observe { [self] change in changed(change) }
    }

    /// Called in order, under the readiness lock.
    private func changed(_ change: Readiness.Change) {
        var fields: [String] = []
        if change.booted, readySent.withLock({ sent in defer { sent = true }; return !sent }) {
            // Startup is over once recovery is done, also when a stop came during it: systemd must not wait
            // for READY=1 until its start timeout.
            fields.append("READY=1")
        }
        switch change.phase {
        case .starting:
            fields.append("STATUS=starting: recovering what dead workers held")
        case .ready:
            fields.append("STATUS=ready: intake open")
        case .quiet:
            fields.append("STATUS=quiet: intake stopped (SIGTSTP), in-flight jobs keep running")
        case .draining, .stopping:
            fields += ["STOPPING=1", "STATUS=\(change.phase.rawValue): intake stopped"] + Self.extendTimeout(change.exitWithin)
        }
        send(fields)
    }

    /// A heartbeat was recorded: pings the watchdog, keeps extending the stop timeout while draining, and
    /// updates STATUS when it changed.
    func beat() async {
        var fields: [String] = []
        if notifier.watchdogInterval != nil { fields.append("WATCHDOG=1") }
        let phase = readiness.phase
        if phase == .draining || phase == .stopping { fields += Self.extendTimeout(readiness.exitWithin) }
        let status = phase == .starting ? "starting: recovering what dead workers held" : await dispatcher.summary()
        if lastStatus.withLock({ last in defer { last = status }; return last != status }) {
            fields.append("STATUS=\(status)")
        }
        if !fields.isEmpty { send(fields) }
    }

    /// How long systemd should wait for the exit: what the drain still needs, as the worker reckons it.
    private static func extendTimeout(_ exitWithin: Duration?) -> [String] {
        guard let left = exitWithin else { return [] }
        return ["EXTEND_TIMEOUT_USEC=\(max(micros(left), 1))"]
    }

    private func send(_ fields: [String]) {
        if !notifier.notify(fields) {
            logger.debug("sd_notify to \(notifier.address) failed: \(fields.joined(separator: ", "))")
        }
    }
}
