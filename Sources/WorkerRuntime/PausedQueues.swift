import Logging
import Synchronization
import WorkerStore

/// What a worker last saw of the paused queues, so that it logs a pause or a resume once, when it first sees it,
/// not at every look.
final class PausedQueues: Sendable {
    private let seen = Mutex<Set<String>?>(nil)

    /// Compares `settings` with the last look and logs the queues paused or resumed since (at the first look: the
    /// queues paused now).
    func look(_ settings: [QueueSettings], logger: Logger) {
        let paused = Set(settings.filter { $0.pausedAt != nil }.map(\.name))
        let before = seen.withLock { seen in
            defer { seen = paused }
            return seen
        }
        for queue in paused.subtracting(before ?? []).sorted() {
            logger.notice("queue \(queue) is paused: its jobs are not claimed until `worker queue resume \(queue)`")
        }
        for queue in (before ?? []).subtracting(paused).sorted() {
            logger.notice("queue \(queue) is resumed: its jobs are claimed again")
        }
    }
}
