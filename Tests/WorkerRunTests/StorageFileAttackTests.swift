import Foundation
import Testing
import WorkerTestKit

/// The WAL and shared-memory files deleted under a running worker (issue 11, item 1). Everything is checked
/// through the binary: a journal opened by this test process would itself be caught in the split (SQLite shares
/// one shared-memory mapping per database file within a process).
@Suite struct StorageFileAttackTests {
    /// A database in a fresh directory, used only through the `worker` binary.
    struct Scratch {
        let directory: TemporaryDirectory
        var db: String { directory.file("worker.sqlite3") }

        init() throws { directory = try TemporaryDirectory("storage-attack") }

        func worker(_ arguments: [String]) async throws -> ProcessResult {
            try await runProcess(ProductBinary.path("worker"), arguments + ["--db", db])
        }

        func start(_ extra: [String] = [], log: String = "worker.log") async throws -> RunningWorker {
            try await RunningWorker(["run", "--db", db, "--plugin", PluginFixtures.examples] + extra, logPath: directory.file(log))
        }

        /// Each job's state by id, from `worker jobs --json`.
        func states() async throws -> [Int64: String] {
            let result = try await worker(["jobs", "--json", "--limit", "100000"])
            #expect(result.status == 0, "\(result.stderr)")
            let jobs = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
            var states: [Int64: String] = [:]
            for job in jobs {
                if let id = (job["id"] as? NSNumber)?.int64Value, let state = job["state"] as? String { states[id] = state }
            }
            return states
        }

        /// Works everything off with a new worker and checks that the journal verifies.
        func finish() async throws {
            let rerun = try await start(["--exit-when-idle"], log: "rerun.log")
            let exit = await rerun.waitForExit(timeout: .seconds(120))
            #expect(exit?.status == 0, "\(rerun.log)")
            let verify = try await worker(["journal", "verify"])
            #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        }

        func remove() { directory.remove() }
    }

    @Test func enqueuesAfterTheSharedMemoryFileIsDeletedAreKeptAndTheWorkerStopsWith74() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        #expect(try await scratch.worker(["migrate"]).status == 0)
        let worker = try await scratch.start()
        #expect(await worker.waitForLog("ready:"), "\(worker.log)")
        #expect(unlink(scratch.db + "-shm") == 0)
        var acknowledged: [Int64] = []
        for _ in 0..<3 {
            let result = try await scratch.worker(["enqueue", "noop"])
            #expect(result.status == 0 || result.status == 74, "exit \(result.status): \(result.stderr)")
            if result.status == 0, let id = Int64(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) {
                acknowledged.append(id)
            }
        }
        let exit = await worker.waitForExit(timeout: .seconds(30))
        #expect(exit?.status == 74, "\(worker.log)")
        #expect(worker.log.contains("shared-memory file \(scratch.db)-shm was deleted"), "\(worker.log)")
        #expect(!acknowledged.isEmpty)
        try await scratch.finish()
        let states = try await scratch.states()
        for id in acknowledged {
            #expect(states[id] == "completed", "job \(id) was acknowledged and is \(states[id] ?? "missing")")
        }
    }

    @Test func aWALFileDeletedUnderARunningWorkerIsSavedAndTheWorkerStopsWith74() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let effects = scratch.directory.file("effects.txt")
        let jobs = 10, steps = 20
        var ids: [Int64] = []
        for index in 1...jobs {
            let payload = #"{"path": "\#(effects)", "text": "j\#(index)", "steps": \#(steps), "ms": 20}"#
            let result = try await scratch.worker(["enqueue", "append", "--payload", payload])
            ids.append(try #require(Int64(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))))
        }
        let worker = try await scratch.start(["--concurrency", "4"])
        // Many steps are journaled, and only in the WAL (SQLite checkpoints every 1,000 pages).
        let written = await eventually(timeout: .seconds(60)) {
            ((try? String(contentsOfFile: effects, encoding: .utf8)) ?? "").split(separator: "\n").count >= 40
        }
        #expect(written)
        #expect(unlink(scratch.db + "-wal") == 0)
        let exit = await worker.waitForExit(timeout: .seconds(30))
        #expect(exit?.status == 74, "\(worker.log)")
        #expect(worker.log.contains("WAL file \(scratch.db)-wal was deleted"), "\(worker.log)")
        #expect(worker.log.contains("its commits were copied into the database file"), "\(worker.log)")
        try await scratch.finish()
        let states = try await scratch.states()
        for id in ids { #expect(states[id] == "completed", "job \(id) is \(states[id] ?? "missing")") }
        // Every step ran; a step ran twice only where the worker stopped under it: at most one per running job.
        let lines = ((try? String(contentsOfFile: effects, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        let counts = Dictionary(lines.map { ($0, 1) }, uniquingKeysWith: +)
        for index in 1...jobs {
            for step in 1...steps { #expect(counts["j\(index):\(step)"] != nil, "step j\(index):\(step) never ran") }
        }
        let repeated = counts.filter { $0.value > 1 }
        #expect(repeated.values.allSatisfy { $0 == 2 } && repeated.count <= 4, "steps written twice: \(repeated.keys.sorted())")
    }
}
