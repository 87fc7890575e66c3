import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// Issue 12, item 7: a step that throws is shown failed with its error, apart from a step a worker died inside.
/// Against the real binary.
@Suite struct StepFailureRunTests {
    /// A plugin whose step fails while the file `<payload's path>.fail` exists.
    enum FailingStep: String, CaseIterable, Sendable {
        /// The C fixture, calling `step_fail` itself.
        case c
        /// A Swift handler whose `step` closure throws: the SDK calls `step_fail`.
        case swift

        var handler: String { self == .c ? "c-steps" : "step_throws" }
        var step: String { self == .c ? "only-once" : "charge" }
        var error: String { self == .c ? "disk full\n\u{1B}[2Jforged line" : "card declined\n\u{1B}[2Jforged line" }
        /// What the step writes to the payload's file each time it runs.
        var ran: String { self == .c ? "step ran\n" : "charge ran\n" }

        func plugin(_ fixtures: PluginFixtures) async throws -> String {
            self == .c ? try await fixtures.cPlugin("step-fails.so", defines: ["STEP_FAILS"]) : try await PluginFixtures.testPlugins()
        }

        func payload(_ path: String) -> String { self == .c ? "\"\(path)\"" : #"{"path": "\#(path)"}"# }
    }

    private func worker(_ arguments: [String], _ fixture: RunFixture) async throws -> ProcessResult {
        try await runProcess(ProductBinary.path("worker"), arguments + ["--db", fixture.db])
    }

    private func stepLine(_ fixture: RunFixture, job: Int64, step: String) async throws -> String? {
        let shown = try await worker(["job", String(job)], fixture)
        #expect(shown.status == 0, "\(shown.stderr)")
        return shown.stdout.split(separator: "\n").map(String.init).first { $0.hasPrefix("  \(step): ") }
    }

    @Test(arguments: FailingStep.allCases)
    func aStepThatThrowsShowsItsErrorAndRunsAgainUntilItCompletes(_ plugin: FailingStep) async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let library = try await plugin.plugin(fixtures)
        let effects = fixture.directory.file("effects")
        #expect(FileManager.default.createFile(atPath: effects + ".fail", contents: nil))
        let id = try await fixture.journal.enqueue(NewJob(handler: plugin.handler, payload: plugin.payload(effects), maxAttempts: 1)).job.id
        try await fixture.runUntilIdle(["--plugin", library])
        #expect(try await fixture.journal.job(id).state == .dead)

        // Failed, with the plugin's error escaped like all text output: its newline cannot forge a line.
        let failed = try #require(try await stepLine(fixture, job: id, step: plugin.step))
        #expect(failed.contains("failed "), "\(failed)")
        let escaped = plugin.error.replacingOccurrences(of: "\n", with: #"\n"#).replacingOccurrences(of: "\u{1B}", with: #"\u{1B}"#)
        #expect(failed.hasSuffix("(attempt 1): \(escaped)"), "\(failed)")
        #expect(!failed.contains("not completed"), "\(failed)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(try await worker(["job", String(id), "--json"], fixture).stdout.utf8)) as? [String: Any])
        let step = try #require((json["steps"] as? [[String: Any]])?.first)
        #expect(step["error"] as? String == plugin.error)
        #expect(step["failed_attempt"] as? Int == 1)
        #expect(step["failed_at"] is String)
        #expect(step["completed_at"] is NSNull)

        // The next run of the job runs the step again; it succeeds and the step shows completed, the error gone.
        try FileManager.default.removeItem(atPath: effects + ".fail")
        #expect(try await worker(["retry", String(id)], fixture).status == 0)
        try await fixture.runUntilIdle(["--plugin", library], log: "second.log")
        #expect(try await fixture.journal.job(id).state == .completed)
        #expect(try String(contentsOfFile: effects, encoding: .utf8) == plugin.ran + plugin.ran)
        let completed = try #require(try await stepLine(fixture, job: id, step: plugin.step))
        #expect(completed.contains("completed "), "\(completed)")
        #expect(!completed.contains("failed") && !completed.contains("forged"), "\(completed)")
        try await fixture.expectSound()
    }

    /// A worker killed inside a step leaves it begun and not completed, with no error: not shown as failed.
    @Test func aStepAWorkerDiedInsideShowsBegunNotCompleted() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let effects = fixture.directory.file("effects")
        let id = try await fixture.enqueue("append", #"{"path": "\#(effects)", "text": "a", "steps": 1, "ms": 600000}"#)
        let running = try await fixture.start()
        let begun = try await eventually { try await !fixture.journal.steps(job: id).isEmpty }
        #expect(begun, "the step never began: \(running.log)")
        running.signal(SIGKILL)
        _ = await running.waitForExit(timeout: .seconds(30))
        let line = try #require(try await stepLine(fixture, job: id, step: "line-1"))
        #expect(line.contains("begun ") && line.hasSuffix(", not completed (attempt 1)"), "\(line)")
        #expect(!line.contains("failed"), "\(line)")
    }
}
