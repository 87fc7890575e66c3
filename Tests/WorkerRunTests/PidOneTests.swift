import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// Whether this process may create PID namespaces (root on Linux with util-linux's unshare).
@Sendable func canUnsharePID() async -> Bool {
    guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return false }
    return (try? await runProcess("/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", "/bin/true"]).status) == 0
}

@Suite struct PidOneTests {
    @Test(.enabled("needs root to create a PID namespace", canUnsharePID))
    func asPIDOneInANewNamespaceTermDrainsAndExits0() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let job = try await fixture.enqueue("sleep", #"{"ms": 30000}"#)
        let wrapper = try await RunningWorker(
            ["--pid", "--fork", "--mount-proc", ProductBinary.path("worker"), "run", "--db", fixture.db, "--drain-timeout", "0.5"]
                + fixture.pluginArguments,
            logPath: fixture.directory.file("pid1.log"), executable: "/usr/bin/unshare")
        #expect(await wrapper.waitForLog("job \(job) sleep started"))
        let children = try await runProcess("/usr/bin/pgrep", ["-P", String(wrapper.pid)]).stdout
        let child = try #require(Int32(children.split(separator: "\n").first ?? ""))
        let status = try String(contentsOfFile: "/proc/\(child)/status", encoding: .utf8)
        #expect(status.contains("NSpid:\t\(child)\t1"), "the worker is not PID 1 in its namespace")
        kill(child, SIGTERM)
        let exit = await wrapper.waitForExit()
        #expect(exit?.status == 0, "\(wrapper.log)")
        #expect(try await fixture.journal.job(job).state == .interrupted)
        try await fixture.expectSound()
    }
}
