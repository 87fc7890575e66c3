import Foundation
import Journal
import WorkerStore
import Logging
import PluginHost
import Testing
import WorkerRuntime
import WorkerTestKit

/// A journal, a registered worker, the example plugins (and optionally more) and the journal's job services.
struct HostFixture {
    let fixtures: PluginFixtures
    let journal: Journal
    let plugins: PluginSet
    let services: StoreJobServices
    let worker = "w1"

    init(extra: [String] = []) async throws {
        fixtures = try PluginFixtures()
        journal = try Journal(path: fixtures.directory.file("w.sqlite3"))
        try await journal.register(WorkerRegistration(id: worker, pid: getpid(), host: "t", processStartedAt: nil, version: "t"))
        plugins = try PluginHost.load(files: [PluginFixtures.examples] + extra, logger: Logger(label: "test"))
        services = StoreJobServices(store: journal, worker: worker)
    }

    /// Enqueues one job, claims it and starts it in its plugin.
    func start(_ handler: String, payload: String = "{}") async throws -> (Job, JobExecution) {
        _ = try await journal.enqueue(NewJob(handler: handler, payload: payload))
        let claimed = try await journal.claim(
            ClaimRequest(worker: worker, limit: 1, plugins: plugins.identities.mapValues(PluginStamp.init)))
        let job = try #require(claimed.first)
        return (job, try plugins.start(HostedJob(job), services: services))
    }

    func remove() { fixtures.remove() }
}

@Suite struct PluginExecutionTests {
    @Test func aJobCompletesThroughTheABIAndRecordsItsPlugin() async throws {
        let fixture = try await HostFixture()
        defer { fixture.remove() }
        let (job, execution) = try await fixture.start("noop")
        #expect(await execution.outcome() == .completed)
        #expect(job.plugin?.name == "examples")
        #expect(job.plugin?.version == "1.0.0")
        #expect(job.plugin?.sha256 == (try PluginHost.open(PluginFixtures.examples).sha256))
    }

    /// Once a job ended and its run handle was freed, a late cancel (a drain's deadline racing the job's end) or
    /// a second release never reaches the plugin: before, both used the freed handle and could crash the worker.
    /// The C fixture built with CHECK_HANDLES keeps freed runs and counts every use of one.
    @Test func cancelAndReleaseAfterTheEndNeverReachThePlugin() async throws {
        let scratch = try PluginFixtures()
        defer { scratch.remove() }
        let library = try await scratch.cPlugin("checked.so", defines: ["CHECK_HANDLES"])
        let fixture = try await HostFixture(extra: [library])
        defer { fixture.remove() }
        let effects = fixture.fixtures.directory.file("effects.txt")
        for _ in 0..<20 {
            let (_, execution) = try await fixture.start("c-steps", payload: "\"\(effects)\"")
            #expect(await execution.outcome() == .completed)  // frees the run handle
            execution.cancel()
            execution.release()
            execution.cancel()
        }
        let handle = try #require(dlopen(library, RTLD_NOW | RTLD_NOLOAD), "the fixture is not loaded")
        defer { dlclose(handle) }
        let misuse = unsafeBitCast(try #require(dlsym(handle, "c_fixture_misuse")), to: (@convention(c) () -> Int32).self)
        #expect(misuse() == 0, "freed run handles were used \(misuse()) time(s)")
    }

    @Test func aThrownErrorIsAFailureWithItsMessage() async throws {
        let fixture = try await HostFixture()
        defer { fixture.remove() }
        let (_, execution) = try await fixture.start("fail", payload: #"{"times": 1}"#)
        #expect(await execution.outcome() == .failed(message: "planned failure 1 of 1", permanent: false))
        let (_, bad) = try await fixture.start("fail", payload: #"{"oops": true}"#)
        if case .failed(let message, let permanent) = await bad.outcome() {
            #expect(permanent)
            #expect(message.contains("payload does not match"))
        } else {
            Issue.record("a payload that does not decode must fail permanently")
        }
    }

    @Test func sleepCheckpointsDurablyAndResumesWithWhatIsLeft() async throws {
        let fixture = try await HostFixture()
        defer { fixture.remove() }
        let (job, execution) = try await fixture.start("sleep", payload: #"{"ms": 250}"#)
        #expect(await execution.outcome() == .completed)
        let saved = try await fixture.journal.job(job.id).checkpoint
        #expect(saved.flatMap { String(data: $0, encoding: .utf8) } == #"{"elapsedMs":250}"#)
    }

    /// A resumed `sleep` sleeps only what its checkpoint says is left: 100 ms of 60 s here. Were it to start over,
    /// the 30 s bound would pass long before it ended.
    @Test func aResumedSleepSleepsOnlyWhatIsLeft() async throws {
        let fixture = try await HostFixture()
        defer { fixture.remove() }
        _ = try await fixture.journal.enqueue(NewJob(handler: "sleep", payload: #"{"ms": 60000}"#))
        var job = try #require(try await fixture.journal.claim(ClaimRequest(worker: fixture.worker, limit: 1)).first)
        job.checkpoint = Data(#"{"elapsedMs": 59900}"#.utf8)
        let execution = try fixture.plugins.start(HostedJob(job), services: fixture.services)
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await execution.outcome() == .completed }
            group.addTask { try? await Task.sleep(for: .seconds(30)); return false }
            let first = await group.next() ?? false
            execution.cancel()
            group.cancelAll()
            return first
        }
        #expect(finished, "the resumed sleep did not complete within 30 s: it started over")
    }

    @Test func cancellationStopsASleepBetweenSlices() async throws {
        let fixture = try await HostFixture()
        defer { fixture.remove() }
        let (job, execution) = try await fixture.start("sleep", payload: #"{"ms": 60000}"#)
        while try await fixture.journal.job(job.id).checkpoint == nil {  // a slice or more has passed
            try await Task.sleep(for: .milliseconds(10))
        }
        execution.cancel()
        #expect(await execution.outcome() == .cancelled)
        let progress = try await fixture.journal.job(job.id).checkpoint.flatMap { String(data: $0, encoding: .utf8) }
        #expect(progress?.hasPrefix(#"{"elapsedMs":"#) == true)
        #expect(progress != #"{"elapsedMs":60000}"#)
    }

    @Test func appendStepsRunOnceAcrossAttempts() async throws {
        let fixture = try await HostFixture()
        defer { fixture.remove() }
        let file = fixture.fixtures.directory.file("effects.txt")
        let payload = #"{"path": "\#(file)", "text": "T", "steps": 3}"#
        let (job, execution) = try await fixture.start("append", payload: payload)
        #expect(await execution.outcome() == .completed)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "T:1\nT:2\nT:3\n")
        // Run the same job again as a later attempt would (recovered, claimed by another worker).
        _ = try await fixture.journal.recoverOrphans(of: fixture.worker, by: nil, reason: "test")
        try await fixture.journal.register(WorkerRegistration(id: "w2", pid: getpid(), host: "t", processStartedAt: nil, version: "t"))
        let again = try #require(try await fixture.journal.claim(ClaimRequest(worker: "w2", limit: 1)).first)
        #expect(again.id == job.id)
        let plugins2 = try PluginHost.load(files: [PluginFixtures.examples], logger: Logger(label: "test"))
        let services2 = StoreJobServices(store: fixture.journal, worker: "w2")
        #expect(try await plugins2.start(HostedJob(again), services: services2).outcome() == .completed)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "T:1\nT:2\nT:3\n")
        #expect(try await fixture.journal.steps(job: job.id).map(\.name) == ["line-1", "line-2", "line-3"])
    }

    @Test func aJobTakenFromTheWorkerCannotCheckpoint() async throws {
        let fixture = try await HostFixture()
        defer { fixture.remove() }
        let (_, execution) = try await fixture.start("sleep", payload: #"{"ms": 60000}"#)
        try await Task.sleep(for: .milliseconds(150))
        _ = try await fixture.journal.recoverOrphans(of: fixture.worker, by: nil, reason: "presumed dead")
        // The next checkpoint is refused as not held: the handler stops with that error.
        if case .failed(let message, _) = await execution.outcome() {
            #expect(message.contains("no longer held"))
        } else {
            Issue.record("a job taken away must not keep running")
        }
    }

    @Test func theCPluginCheckpointsRunsItsStepOnceAndCompletes() async throws {
        let scratch = try PluginFixtures()
        defer { scratch.remove() }
        let cPlugin = try await scratch.cPlugin("c.so")
        let fixture = try await HostFixture(extra: [cPlugin])
        defer { fixture.remove() }
        let effects = fixture.fixtures.directory.file("c-effects.txt")
        let (job, execution) = try await fixture.start("c-steps", payload: "\"\(effects)\"")
        #expect(await execution.outcome() == .completed)
        #expect(try await fixture.journal.job(job.id).checkpoint == Data("started".utf8))
        #expect(try String(contentsOfFile: effects, encoding: .utf8) == "step ran\n")
        #expect(try await fixture.journal.steps(job: job.id).first?.completedAt != nil)
        let (_, failing) = try await fixture.start("c-steps", payload: "\"\(effects)-fail\"")
        #expect(await failing.outcome() == .failed(message: "asked to fail", permanent: false))
    }

    /// The C fixture built with STEP_FAILS calls step_fail in its step while a marker file exists: the host
    /// journals the failure with the plugin's error text, byte for byte, and the step stays not completed.
    @Test func stepFailJournalsTheStepsErrorAndLeavesItNotCompleted() async throws {
        let scratch = try PluginFixtures()
        defer { scratch.remove() }
        let cPlugin = try await scratch.cPlugin("step-fails.so", defines: ["STEP_FAILS"])
        let fixture = try await HostFixture(extra: [cPlugin])
        defer { fixture.remove() }
        let effects = fixture.fixtures.directory.file("c-effects.txt")
        #expect(FileManager.default.createFile(atPath: effects + ".fail", contents: nil))
        let (job, execution) = try await fixture.start("c-steps", payload: "\"\(effects)\"")
        #expect(await execution.outcome() == .failed(message: "step threw (step_fail status 0)", permanent: false))
        let step = try #require(try await fixture.journal.steps(job: job.id).first)
        #expect(step.name == "only-once")
        #expect(step.completedAt == nil)
        #expect(step.failedAt != nil)
        #expect(step.failedAttempt == 1)
        #expect(step.error == "disk full\n\u{1B}[2Jforged line")
    }
}
