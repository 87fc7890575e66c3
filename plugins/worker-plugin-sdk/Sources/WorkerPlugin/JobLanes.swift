import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A thread of its own that runs one job's tasks at a time: the executor a job's handler runs on. A handler that
/// blocks its thread (it should not, but some do) then blocks only its lane, never the worker's own machinery or
/// the other jobs. Lanes are kept and reused, so a plugin has as many threads as jobs it ran at once at most,
/// however many jobs it runs (a Dispatch queue per job made the pool spawn threads by the dozen under load).
final class JobLane: TaskExecutor, @unchecked Sendable {  // `pending` is guarded by `condition`
    private let condition = NSCondition()
    private var pending: [UnownedJob] = []

    init(number: Int) {
        let thread = Thread { [self] in
            nameThisThread("job-lane-\(number % 100_000)")
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

/// Gives the calling thread a name the kernel knows (seen in top -H, gdb, /proc), at most 15 bytes. Not
/// `Thread.current.name`: Foundation names the thread only once `start()` has stored its pthread, which the new
/// thread can outrun, and it then keeps its creator's name. Glibc's `pthread_setname_np` is not visible to Swift.
private func nameThisThread(_ name: String) {
    let file = open("/proc/thread-self/comm", O_WRONLY)
    guard file >= 0 else { return }  // no /proc: the thread keeps its creator's name, nothing worse
    defer { close(file) }
    var bytes = Array(name.utf8.prefix(15))
    _ = write(file, &bytes, bytes.count)
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
