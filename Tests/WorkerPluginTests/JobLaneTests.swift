import Foundation
import Synchronization
import Testing

@testable import WorkerPlugin

@Suite struct JobLaneTests {
    @Test func lanesAreReusedSoThreadsAreBoundedByJobsAtOnce() async {
        let pool = LanePool()
        for _ in 0..<50 {
            let lanes = (0..<3).map { _ in pool.acquire() }
            await withTaskGroup(of: Void.self) { group in
                for lane in lanes {
                    group.addTask(executorPreference: lane) { await Task.yield() }
                }
            }
            lanes.forEach(pool.release)
        }
        #expect(pool.created == 3)  // 150 jobs, never more than 3 at once
    }

    @Test func everyLaneHasItsNameInTheKernel() async {
        let pool = LanePool()
        let lanes = (0..<64).map { _ in pool.acquire() }
        let names = await withTaskGroup(of: String.self) { group in
            for lane in lanes { group.addTask(executorPreference: lane) { threadName() } }
            return await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        let expected = Set((1...64).map { "job-lane-\($0)" })
        #expect(names == expected, "threads not named as their lane: \(names.subtracting(expected).sorted())")
    }

    @Test func aBlockedLaneBlocksOnlyItsOwnJob() async throws {
        let pool = LanePool()
        let blocked = pool.acquire()
        let other = pool.acquire()
        #expect(blocked !== other)
        let gate = DispatchSemaphore(value: 0)
        let released = Task(executorPreference: blocked) {
            gate.wait()  // a handler that blocks its thread
            return threadName()
        }
        let name = await Task(executorPreference: other) { threadName() }.value
        #expect(name.hasPrefix("job-lane-"), "ran on \(name), not on a lane")
        gate.signal()
        #expect(await released.value != name)
    }
}

/// The calling thread's name as the kernel knows it.
func threadName() -> String {
    ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "")
        .trimmingCharacters(in: .whitespacesAndNewlines)
}
