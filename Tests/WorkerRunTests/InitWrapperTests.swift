import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// The worker under the init processes containers use, each as PID 1 of a new PID namespace (as in a container):
/// TERM to the init is forwarded, the worker drains, and the init exits with the worker's status.
@Suite struct InitWrapperTests {
    static let wrappers: [(name: String, path: String, arguments: [String])] = [
        ("tini", "/usr/bin/tini", ["--"]), ("dumb-init", "/usr/bin/dumb-init", []),
    ]

    @Sendable static func available() async -> Bool {
        guard await canUnsharePID() else { return false }
        return wrappers.allSatisfy { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    @Test(.enabled("needs root, unshare, tini and dumb-init", available), arguments: ["tini", "dumb-init"])
    func asPIDOneUnderAnInitTermDrainsAndExits0(wrapper name: String) async throws {
        let wrapper = try #require(Self.wrappers.first { $0.name == name })
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let short = try await fixture.enqueue("sleep", #"{"ms": 300}"#)
        let long = try await fixture.enqueue("sleep", #"{"ms": 60000}"#)
        let unshare = try await RunningWorker(
            ["--pid", "--fork", "--mount-proc", wrapper.path] + wrapper.arguments
                + [ProductBinary.path("worker"), "run", "--db", fixture.db, "--drain-timeout", "3"] + fixture.pluginArguments,
            logPath: fixture.directory.file("\(name).log"), executable: "/usr/bin/unshare")
        #expect(await unshare.waitForLog("job \(long) sleep started"), "\(unshare.log)")
        // The init is unshare's child (PID 1 inside); the worker is the init's child.
        let initPID = try #require(Int32(try await runProcess("/usr/bin/pgrep", ["-P", String(unshare.pid)]).stdout.split(separator: "\n").first ?? ""))
        let status = try String(contentsOfFile: "/proc/\(initPID)/status", encoding: .utf8)
        #expect(status.contains("NSpid:\t\(initPID)\t1"), "\(name) is not PID 1 in its namespace")
        kill(initPID, SIGTERM)
        let exit = await unshare.waitForExit(timeout: .seconds(60))
        #expect(exit?.status == 0, "\(unshare.log)")
        #expect(unshare.log.contains("received SIGTERM"), "\(unshare.log)")
        #expect(try await fixture.journal.job(short).state == .completed)
        #expect(try await fixture.journal.job(long).state == .interrupted)
        try await fixture.expectSound()
    }
}
