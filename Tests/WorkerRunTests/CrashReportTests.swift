import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// A crashed worker always ends, even when Swift's crash report (swift-backtrace) hangs, as it now and then
/// does: its supervisor restarts it and the next start recovers its jobs.
@Suite struct CrashReportTests {
    @Test func aCrashReportThatHangsDoesNotKeepACrashedWorkerAlive() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        // A stand-in for swift-backtrace that never finishes.
        let hang = fixture.directory.file("hang.sh")
        try "#!/bin/sh\nexec sleep 120\n".write(toFile: hang, atomically: true, encoding: .utf8)
        #expect(chmod(hang, 0o755) == 0)
        let job = try await fixture.enqueue("crash", #"{"how": "abort"}"#)
        let worker = try await fixture.start(environment: [
            "SWIFT_BACKTRACE": "enable=yes,swift-backtrace=\(hang)", "WORKER_CRASH_REPORT_TIMEOUT": "3",
        ])
        #expect(await worker.waitForLog("job \(job) crash started"), "\(worker.log)")
        let exit = await worker.waitForExit(timeout: .seconds(90))
        defer { kill(-worker.pid, SIGKILL) }  // the stand-in, left in the worker's process group
        #expect(exit?.signal == SIGKILL, "\(worker.log)")
        #expect(worker.log.contains("worker: crash report did not finish in time: killing the process"), "\(worker.log)")
        #expect(try await fixture.journal.deadWorkers(except: nil).count == 1)
        #expect(try await fixture.journal.job(job).state == .running)  // until the next start recovers it
    }

    @Test func withSwiftsCrashReportTheWorkerEndsAndItsJobIsRecoverable() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let job = try await fixture.enqueue("crash", #"{"how": "abort"}"#)
        let worker = try await fixture.start(environment: ["SWIFT_BACKTRACE": "enable=yes"])
        let exit = await worker.waitForExit(timeout: .seconds(120))
        defer { kill(-worker.pid, SIGKILL) }
        // The report finished (the abort's signal), or took longer than the watchdog allows on a loaded machine.
        #expect(exit?.signal == SIGABRT || (exit?.signal == SIGKILL && worker.log.contains("did not finish in time")), "\(worker.log)")
        #expect(try await fixture.journal.deadWorkers(except: nil).count == 1)
        #expect(try await fixture.journal.job(job).state == .running)
    }

    @Test func withoutACrashReportTheWorkerEndsWithTheCrashSignal() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let job = try await fixture.enqueue("crash", #"{"how": "abort"}"#)
        let worker = try await fixture.start(environment: ["SWIFT_BACKTRACE": "enable=no"])
        let exit = await worker.waitForExit(timeout: .seconds(90))
        #expect(exit?.signal == SIGABRT, "\(worker.log)")
        #expect(!worker.log.contains("did not finish in time"), "\(worker.log)")
        #expect(try await fixture.journal.job(job).state == .running)
    }
}
