import Foundation
import Synchronization

/// A task executor with a thread of its own, for the store calls a plugin's thread makes and waits for
/// (`transactionBlocking`). Plugins may run their handlers on Swift's cooperative pool and block its threads in
/// such calls: the work they wait for must not need that pool, or a few blocked handlers would starve it and wait
/// forever. Tasks preferring this executor run here; the thread only ever runs jobs, it never blocks in them.
final class BlockingExecutor: TaskExecutor, @unchecked Sendable {  // the queue is guarded by `condition`
    static let shared = BlockingExecutor()

    private let condition = NSCondition()
    private var queue: [UnownedJob] = []

    private init() {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "worker.journal.blocking"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        queue.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let jobs = queue
            queue.removeAll()
            condition.unlock()
            for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}
