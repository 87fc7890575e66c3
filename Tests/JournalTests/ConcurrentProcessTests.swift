import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

@Suite struct ConcurrentProcessTests {
    @Test func twoProcessesClaimingAtOnceNeverGetTheSameJob() async throws {
        let dir = try TemporaryDirectory("race")
        defer { dir.remove() }
        let path = dir.file("w.sqlite3")
        let journal = try Journal(path: path)
        let count = 3000
        _ = try await journal.enqueue(batch: (0..<count).map { NewJob(handler: "noop", payload: #"{"n":\#($0)}"#) })

        let go = dir.file("go")
        var probes: [ChildProcess] = []
        for n in 1...2 {
            probes.append(try await startProcess(ProductBinary.path("journal-probe"), ["claim", path, "probe-\(n)", "3", go], outputPath: dir.file("out-\(n)")))
        }
        // Both registered (they wait for the go file after registering): start them together.
        _ = try await eventually { try await journal.liveWorkers().count >= 2 }
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        for probe in probes where await probe.waitForExit(timeout: .seconds(120)) == nil {
            Issue.record("a probe did not finish: \(probe.diagnosis) \(await probe.stacks())")
            return
        }
        #expect(probes.allSatisfy { $0.ended == .exited(0) })
        let claimed = try (1...2).map { n in
            try String(contentsOfFile: dir.file("out-\(n)"), encoding: .utf8).split(separator: "\n").compactMap { Int64($0) }
        }
        // Both took part, no id twice, every job once.
        #expect(claimed.allSatisfy { !$0.isEmpty }, "one probe claimed nothing: the race was not exercised")
        let all = claimed.flatMap { $0 }
        #expect(all.count == count)
        #expect(Set(all).count == count)
        #expect(try await journal.stats()[.completed] == count)
        for id in all.prefix(50) {
            #expect(try await journal.events(job: id).filter { $0.to == .running }.count == 1)
        }
        #expect(try await journal.verify().isSound)
    }

    @Test func processesOpeningANewDatabaseTogetherMigrateItOnce() async throws {
        let dir = try TemporaryDirectory("race")
        defer { dir.remove() }
        let path = dir.file("fresh.sqlite3")
        var probes: [ChildProcess] = []
        for n in 1...4 {
            probes.append(try await startProcess(ProductBinary.path("journal-probe"), ["claim", path, "p\(n)", "1"], outputPath: dir.file("o\(n)")))
        }
        for probe in probes where await probe.waitForExit(timeout: .seconds(120)) == nil {
            Issue.record("a probe did not finish: \(probe.diagnosis) \(await probe.stacks())")
            return
        }
        let errors = try (1...4).map { try String(contentsOfFile: dir.file("o\($0).err"), encoding: .utf8) }
        #expect(probes.allSatisfy { $0.ended == .exited(0) }, "\(errors)")
        #expect(try await Journal(path: path).appliedMigrations() == EmbeddedMigrationFiles.names)
    }
}
