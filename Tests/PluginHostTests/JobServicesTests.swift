import Foundation
import Logging
import PluginHost
import Testing
import WorkerTestKit

/// The host records nothing itself: a plugin's checkpoints and steps go to the `JobServices` it is handed, here an
/// in-memory fake (no journal, no SQLite).
@Suite struct JobServicesTests {
    static let logger = Logger(label: "test")

    /// Steps are begun and committed through the services, and a step an earlier attempt completed is answered
    /// from them instead of running again: `line-2` is never appended.
    @Test func stepsGoToTheServicesAndACompletedOneIsNotRunAgain() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let file = fixtures.directory.file("effects.txt")
        let services = MemoryJobServices(completed: [7: ["line-2": Data(#"{"value":2}"#.utf8)]])
        let plugins = try PluginHost.load(files: [PluginFixtures.examples], logger: Self.logger)
        let job = HostedJob(id: 7, handler: "append", attempt: 2, payload: #"{"path": "\#(file)", "text": "T", "steps": 3}"#)
        #expect(await (try plugins.start(job, services: services)).outcome() == .completed)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "T:1\nT:3\n")
        let recorded = services.recorded
        #expect(recorded.calls == ["begin 7 line-1", "commit 7 line-1", "begin 7 line-2", "begin 7 line-3", "commit 7 line-3"])
        #expect(recorded.completed[7]?["line-1"].map { String(decoding: $0, as: UTF8.self) } == #"{"value":1}"#)
        #expect(recorded.completed[7]?["line-3"].map { String(decoding: $0, as: UTF8.self) } == #"{"value":3}"#)
    }

    /// The checkpoint the job is handed reaches the plugin (the sleep resumes at 100 of 250 ms), and each new one
    /// goes to the services.
    @Test func checkpointsGoToTheServicesAndTheHandedOneIsResumedFrom() async throws {
        let services = MemoryJobServices()
        let plugins = try PluginHost.load(files: [PluginFixtures.examples], logger: Self.logger)
        let job = HostedJob(
            id: 3, handler: "sleep", attempt: 1, payload: #"{"ms": 250}"#, checkpoint: Data(#"{"elapsedMs":100}"#.utf8))
        #expect(await (try plugins.start(job, services: services)).outcome() == .completed)
        let recorded = services.recorded
        #expect(recorded.calls == ["checkpoint 3", "checkpoint 3"])  // 200, then 250: the first 100 ms are not slept again
        #expect(recorded.checkpoints[3].map { String(decoding: $0, as: UTF8.self) } == #"{"elapsedMs":250}"#)
    }

    /// A step that throws has its error recorded through the services (`step_fail`), stays not completed, and runs
    /// again on the next attempt, whose result is then committed.
    @Test func aThrowingStepsErrorGoesToTheServicesAndTheStepRunsAgain() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let file = fixtures.directory.file("effects.txt")
        try Data().write(to: URL(fileURLWithPath: file + ".fail"))
        let services = MemoryJobServices()
        let plugins = try PluginHost.load(files: [try await PluginFixtures.testPlugins()], logger: Self.logger)
        let payload = #"{"path": "\#(file)"}"#
        let first = await (try plugins.start(HostedJob(id: 5, handler: "step_throws", attempt: 1, payload: payload), services: services)).outcome()
        guard case .failed = first else {
            Issue.record("a step that throws must fail the job, not \(first)")
            return
        }
        #expect(services.recorded.calls == ["begin 5 charge", "fail 5 charge"])
        #expect(services.recorded.failed[5]?["charge"]?.contains("card declined") == true)
        try FileManager.default.removeItem(atPath: file + ".fail")
        let second = try plugins.start(HostedJob(id: 5, handler: "step_throws", attempt: 2, payload: payload), services: services)
        #expect(await second.outcome() == .completed)
        #expect(services.recorded.calls == ["begin 5 charge", "fail 5 charge", "begin 5 charge", "commit 5 charge"])
        #expect(services.recorded.failed[5]?["charge"] == nil)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "charge ran\ncharge ran\n")
    }

    /// A refusal reaches the plugin as its ABI status: `notHeld` as `WP_NOT_HELD` (the SDK says the job is no
    /// longer held), any other as `WP_ERROR` (-1); the step's body never runs.
    @Test(arguments: [
        (JobServiceError.notHeld, "step 'line-1': the job is no longer held by this worker"),
        (JobServiceError.failed("disk full"), "step 'line-1' failed (status -1)"),
    ])
    func aRefusalReachesThePluginAsItsStatus(refusal: JobServiceError, message: String) async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let file = fixtures.directory.file("effects.txt")
        let services = MemoryJobServices(refusal: refusal)
        let plugins = try PluginHost.load(files: [PluginFixtures.examples], logger: Self.logger)
        let job = HostedJob(id: 9, handler: "append", attempt: 1, payload: #"{"path": "\#(file)", "text": "T"}"#)
        let outcome = await (try plugins.start(job, services: services)).outcome()
        guard case .failed(let text, permanent: false) = outcome else {
            Issue.record("a refused step must fail the job (retryable), not \(outcome)")
            return
        }
        #expect(text.contains(message), "\(text)")
        #expect(services.recorded.calls == ["begin 9 line-1"])
        #expect(!FileManager.default.fileExists(atPath: file))
    }
}
