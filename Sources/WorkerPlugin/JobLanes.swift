import Foundation
import Synchronization

/// A thread of its own that runs one job's tasks at a time: the executor a job's handler runs on. A handler that
/// blocks its thread (it should not, but some do) then blocks only its lane, never the worker's own machinery or
/// the other jobs. Lanes are kept and reused, so a plugin has as many threads as jobs it ran at once at most,
/// however many jobs it runs (a Dispatch queue per job made the pool spawn threads by the dozen under load).
final class JobLane: TaskExecutor, @unchecked Sendable {  // `pending` is guarded by `condition`
    private let condition = NSCondition()
    private var pending: [UnownedJob] = []

    init(number: Int) {
        let thread = Thread { [self] in
            Thread.current.name = "job-lane-\(number % 100_000)"  // the kernel's name too: seen in top -H, gdb
            run()
        }
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        pending.append(job)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while pending.isEmpty { condition.wait() }
            swap(&batch, &pending)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}

/// Idle lanes, most recently used last. A plugin uses `LanePool.shared`.
final class LanePool: Sendable {
    static let shared = LanePool()

    private let idle = Mutex<(lanes: [JobLane], created: Int)>(([], 0))

    /// An idle lane, or a new one when all are busy.
    func acquire() -> JobLane {
        let (lane, number): (JobLane?, Int) = idle.withLock { state in
            if let lane = state.lanes.popLast() { return (lane, 0) }
            state.created += 1
            return (nil, state.created)
        }
        return lane ?? JobLane(number: number)
    }

    /// Gives a lane back once its job's handler returned.
    func release(_ lane: JobLane) {
        idle.withLock { $0.lanes.append(lane) }
    }

    /// Lanes created so far (threads).
    var created: Int { idle.withLock { $0.created } }
}
