import Foundation
import Journal
import WorkerStore
import Logging
import PluginHost
import ServiceLifecycle
import Testing
import WorkerRuntime
import WorkerTestKit

extension ManualClock {
    /// The runtime's clocks, both on this manual clock.
    var runtimeClock: RuntimeClock {
        RuntimeClock(now: { [self] in instant }, wall: wallClock, sleep: { [self] in await sleep(until: $0) })
    }
}

/// A sidecar that comes up, then fails once `failWhen` returns.
struct FailingSidecar: Sidecar {
    struct Failed: Error, CustomStringConvertible {
        var description: String { "the test sidecar broke" }
    }

    let role = "the test sidecar"
    let gate = StartupGate()
    let failWhen: @Sendable () async throws -> Void

    var isStarted: Bool { gate.isOpen }

    func started() async throws { try await gate.wait() }

    func run() async throws {
        gate.open()
        try await failWhen()
        throw Failed()
    }
}

/// Every way a worker's services end drains the jobs in flight: recorded `interrupted` with why, never left
/// `running` for the next boot's recovery (which would count a crash against them). And handlers see the drain.
@Suite struct ShutdownTests {
    /// The drain deadline a handler sees (`drainDeadline` through the ABI) is the dispatcher's own, converted
    /// once: on a manual clock the two are equal to the microsecond. The job is cancelled when the clock passes
    /// that deadline, and not before: nothing here sleeps for the deadline.
    @Test func aHandlerSeesTheDrainAndTheDeadlineItIsCancelledAt() async throws {
        let manual = ManualClock()
        var journalOptions = JournalOptions()
        journalOptions.clock = manual.wallClock
        let fixture = try await DispatcherFixture(journalOptions: journalOptions)
        defer { fixture.remove() }
        let journal = fixture.journal
        let probe = fixture.directory.file("probe.txt")
        let id = try await journal.enqueue(NewJob(handler: "drain_probe", payload: #"{"path": "\#(probe)"}"#)).job.id
        var options = WorkerOptions()
        options.drainTimeout = .seconds(7)
        let dispatcher = Dispatcher(
            journal: journal, plugins: fixture.plugins, worker: "w", options: options, logger: fixture.logger, clock: manual.runtimeClock)
        let loop = Task { try await dispatcher.run() }
        _ = await eventually(timeout: .seconds(30)) { FileManager.default.fileExists(atPath: probe) }  // started
        let stoppedAt = manual.now
        await dispatcher.stop(.drain(reason: "test drain"))
        _ = await eventually(timeout: .seconds(30)) { (try? String(contentsOfFile: probe, encoding: .utf8))?.contains("draining") == true }
        let lines = try String(contentsOfFile: probe, encoding: .utf8).split(separator: "\n")
        let firstLine = lines.count > 1 ? lines[1] : ""
        let seen = firstLine.split(separator: " ")
        try #require(seen.count == 3, "the probe wrote '\(firstLine)'")
        let deadline = try #require(Int64(seen[1]))
        #expect(abs(deadline - (stoppedAt + 7_000_000)) <= 1, "the handler saw \(deadline), the drain's deadline is \(stoppedAt + 7_000_000)")
        // The manual clock has not moved: the job runs on.
        #expect(try await journal.job(id).state == .running)
        #expect(try String(contentsOfFile: probe, encoding: .utf8).contains("cancelled") == false)
        manual.advance(seconds: 6.9)
        #expect(try await journal.job(id).state == .running)
        manual.advance(seconds: 0.1)
        try await loop.value
        let job = try await journal.job(id)
        #expect(job.state == .interrupted)
        #expect(try await journal.events(job: id).last?.reason == "interrupted: test drain: drain deadline passed")
        #expect(try String(contentsOfFile: probe, encoding: .utf8).contains("cancelled"))
        #expect(try await journal.verify().isSound)
    }

    /// The admin endpoint (any sidecar) failing mid-run drains the worker: the job in flight is interrupted with
    /// the failure as its reason, no crash is counted, and the worker then ends with the failure.
    @Test func aSidecarFailingMidRunDrainsTheWorker() async throws {
        let fixture = try await DispatcherFixture(worker: "w2", register: false)  // WorkerProcess registers it
        defer { fixture.remove() }
        let journal = fixture.journal
        let long = try await journal.enqueue(NewJob(handler: "sleep", payload: #"{"ms": 60000}"#)).job.id
        var options = WorkerOptions()
        options.drainTimeout = .milliseconds(300)
        options.exitWhenIdle = false
        let sidecar = FailingSidecar {  // once the job runs (claimed is not enough: it checkpoints every 100 ms)
            _ = try await eventually(timeout: .seconds(30)) { try await journal.job(long).checkpoint != nil }
        }
        let process = WorkerProcess(journal: journal, plugins: fixture.plugins, options: options, logger: fixture.logger)
        await #expect(throws: FailingSidecar.Failed.self) {
            try await process.run(worker: "w2", signals: nil, sidecars: [sidecar])
        }
        try await Self.expectInterrupted(long, in: journal, reason: "interrupted: the test sidecar failed: drain deadline passed")
    }

    /// Cancelling the task that runs the worker stops it at once, but still records what it held.
    @Test func aCancelledWorkerRecordsItsJobsInterrupted() async throws {
        let fixture = try await DispatcherFixture(worker: "w2", register: false)  // WorkerProcess registers it
        defer { fixture.remove() }
        let journal = fixture.journal
        let long = try await journal.enqueue(NewJob(handler: "sleep", payload: #"{"ms": 60000}"#)).job.id
        var options = WorkerOptions()
        options.exitWhenIdle = false
        let process = WorkerProcess(journal: journal, plugins: fixture.plugins, options: options, logger: fixture.logger)
        let run = Task { try await process.run(worker: "w2", signals: nil) }
        _ = try await eventually(timeout: .seconds(30)) { try await journal.job(long).checkpoint != nil }
        run.cancel()
        _ = await run.result
        try await Self.expectInterrupted(long, in: journal, reason: "interrupted: the worker's services were cancelled")
    }

    /// The job ended `interrupted` for `reason`, no crash counted, and the journal is sound.
    static func expectInterrupted(
        _ id: Int64, in journal: Journal, reason: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let job = try await journal.job(id)
        #expect(job.state == .interrupted, sourceLocation: sourceLocation)
        #expect(job.crashes == 0, sourceLocation: sourceLocation)
        #expect(try await journal.events(job: id).last?.reason == reason, sourceLocation: sourceLocation)
        #expect(try await journal.verify().isSound, sourceLocation: sourceLocation)
    }
}
