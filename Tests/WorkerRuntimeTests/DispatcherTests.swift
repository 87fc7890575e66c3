import Foundation
import Journal
import WorkerStore
import Logging
import PluginHost
import Testing
import WorkerRuntime
import WorkerTestKit

/// A journal in a fresh directory, the example plugins, and the registered worker "w" to run dispatchers as.
struct DispatcherFixture {
    let directory: TemporaryDirectory
    let journal: Journal
    let plugins: PluginSet
    let logger = Logger(label: "test")

    /// `register: false` leaves registering `worker` to the code under test (`WorkerProcess`).
    init(journalOptions: JournalOptions = JournalOptions(), worker: String = "w", register: Bool = true) async throws {
        directory = try TemporaryDirectory("dispatcher")
        journal = try Journal(path: directory.file("w.sqlite3"), options: journalOptions)
        plugins = try PluginHost.load(files: [PluginFixtures.examples, try await PluginFixtures.testPlugins()], logger: logger)
        if register {
            try await journal.register(WorkerRegistration(id: worker, pid: getpid(), host: "t", processStartedAt: nil, version: "t"))
        }
    }

    func dispatcher(_ options: WorkerOptions, clock: RuntimeClock = .system) -> Dispatcher {
        Dispatcher(journal: journal, plugins: plugins, worker: "w", options: options, logger: logger, clock: clock)
    }

    /// A fixture whose journal and dispatchers read `clock`.
    static func manual(_ clock: ManualClock, _ adjust: (inout JournalOptions) -> Void = { _ in }) async throws -> DispatcherFixture {
        var options = JournalOptions()
        options.clock = clock.wallClock
        adjust(&options)
        return try await DispatcherFixture(journalOptions: options)
    }

    func remove() { directory.remove() }
}

@Suite struct DispatcherTests {
    /// An enqueue through the worker's own journal changes no `data_version` for it: only the in-process
    /// notification can wake the dispatcher. On a manual clock that never moves no poll or recheck can find the
    /// job either: without the notification it would never be claimed.
    @Test func anEnqueueInTheSameProcessWakesTheDispatcher() async throws {
        let clock = ManualClock()
        let fixture = try await DispatcherFixture.manual(clock)
        defer { fixture.remove() }
        let journal = fixture.journal
        var options = WorkerOptions()
        options.exitWhenIdle = false
        let dispatcher = fixture.dispatcher(options, clock: clock.runtimeClock)
        journal.onNewWork { Task { await dispatcher.nudge() } }
        let loop = Task { try await dispatcher.run() }
        try #require(await eventually(timeout: .seconds(30)) { clock.waiting > 0 }, "the dispatcher never went idle")
        let id = try await journal.enqueue(NewJob(handler: "noop")).job.id
        _ = try await eventually(timeout: .seconds(30)) { try await journal.job(id).state == .completed }
        #expect(try await journal.job(id).state == .completed)
        await dispatcher.stop(.drain(reason: "test"))
        try await loop.value
        #expect(try await journal.verify().isSound)
    }

    /// An idle dispatcher is woken by another process's commit (an inotify watch on the WAL file), and a job
    /// scheduled by it starts when due. The clock is manual: no poll, recheck or settling look ever comes due, so
    /// only the watch can start the first job, and only the clock reaching its due time the second.
    @Test func anotherProcesssCommitWakesAnIdleDispatcher() async throws {
        let clock = ManualClock()
        let fixture = try await DispatcherFixture.manual(clock)
        defer { fixture.remove() }
        let journal = fixture.journal
        var options = WorkerOptions()
        options.exitWhenIdle = false
        let dispatcher = fixture.dispatcher(options, clock: clock.runtimeClock)
        let loop = Task { try await dispatcher.run() }
        try #require(await eventually(timeout: .seconds(30)) { clock.waiting > 0 }, "the dispatcher never went idle")
        var otherOptions = JournalOptions()
        otherOptions.clock = clock.wallClock
        let other = try Journal(path: journal.path, options: otherOptions)  // another connection: as another process
        let now = try await other.enqueue(NewJob(handler: "noop")).job.id
        let later = try await other.enqueue(NewJob(handler: "noop", runAt: clock.now + 1_500_000)).job.id
        _ = try await eventually(timeout: .seconds(30)) { try await journal.job(now).state == .completed }
        #expect(try await journal.job(now).state == .completed, "the watch did not wake the dispatcher")
        #expect(try await journal.job(later).state == .scheduled, "a job ran before it was due")
        clock.advance(seconds: 1.5)
        _ = try await eventually(timeout: .seconds(90)) { try await journal.job(later).state == .completed }
        #expect(try await journal.job(later).state == .completed, "the due job was not started")
        await dispatcher.stop(.drain(reason: "test"))
        try await loop.value
    }

    /// A retrying job that is due but not for this worker (another queue) does not make it spin: it is not a due
    /// time to wake for more than once. On a manual clock a spinning loop never settles into a wait (its waits are
    /// all due at once), and a settled one makes one claim round at most as the clock moves past the due time.
    @Test func aDueJobOfAnotherQueueDoesNotMakeAnIdleWorkerSpin() async throws {
        let clock = ManualClock()
        let fixture = try await DispatcherFixture.manual(clock) { $0.retryPolicy = RetryPolicy(baseSeconds: 0.2, capSeconds: 0.2, jitter: 0) }
        defer { fixture.remove() }
        let journal = fixture.journal
        // Another worker, of queue "other", fails a job there: it waits 200 ms and is then due, for that queue.
        try await journal.register(WorkerRegistration(id: "peer", pid: getpid(), host: "t", processStartedAt: nil, version: "t"))
        let id = try await journal.enqueue(NewJob(handler: "noop", queue: "other")).job.id
        _ = try await journal.claim(ClaimRequest(worker: "peer", limit: 1, queues: ["other"]))
        _ = try await journal.finish(job: id, worker: "peer", outcome: .failed(error: "later"))
        var options = WorkerOptions()
        options.queues = ["default"]
        let dispatcher = fixture.dispatcher(options, clock: clock.runtimeClock)
        let loop = Task { try await dispatcher.run() }
        try #require(await eventually(timeout: .seconds(30)) { clock.waiting > 0 }, "the dispatcher never went idle")
        clock.advance(seconds: 0.01)  // its first looks, at start, may claim: count from the next settled wait
        try #require(await eventually(timeout: .seconds(30)) { clock.waiting > 0 }, "the dispatcher spins: it never waits")
        let before = await dispatcher.rounds
        for _ in 0..<10 {  // past the job's due time, a tenth of a second at a time
            clock.advance(seconds: 0.1)
            try #require(await eventually(timeout: .seconds(30)) { clock.waiting > 0 }, "the dispatcher spins: it never waits")
        }
        let rounds = await dispatcher.rounds - before
        #expect(rounds <= 1, "\(rounds) claim rounds while idle (one is expected at the due time: the job might be claimable)")
        #expect(try await journal.job(id).state == .retrying)
        await dispatcher.stop(.drain(reason: "test"))
        try await loop.value
    }

    /// A job an operator cancels while it waits claimed ahead is never started.
    @Test func aCancelledJobThatWasClaimedAheadNeverStarts() async throws {
        let fixture = try await DispatcherFixture()
        defer { fixture.remove() }
        let journal = fixture.journal
        let long = try await journal.enqueue(NewJob(handler: "sleep", payload: #"{"ms": 30000}"#)).job.id
        let effects = fixture.directory.file("effects.txt")
        let ahead = try await journal.enqueue(NewJob(handler: "append", payload: #"{"path": "\#(effects)", "text": "x"}"#)).job.id
        var options = WorkerOptions()
        options.concurrency = 1
        options.prefetch = .fixed(1)
        let dispatcher = fixture.dispatcher(options)
        let loop = Task { try await dispatcher.run() }
        // Claimed ahead behind the sleep. (Poll until then and no longer: a `for … where` would go on reading
        // after it, and on a loaded machine outlast the sleep.)
        _ = try await eventually(timeout: .seconds(20)) { try await journal.job(ahead).state == .running }
        try #require(try await journal.job(ahead).state == .running, "the append job was not claimed ahead")
        await dispatcher.cancelRequested([ahead])
        await dispatcher.stop(.immediate(reason: "test"))
        try await loop.value
        #expect(try await journal.job(ahead).state == .cancelled)
        #expect(!FileManager.default.fileExists(atPath: effects), "the cancelled job ran")
        #expect(try await journal.job(long).state == .interrupted)
        #expect(try await journal.verify().isSound)
    }
}
