import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// sd_notify, received on a test socket standing in for systemd's, at a path and at an abstract address.
@Suite struct SystemdNotifyTests {
    @Test(arguments: ["path", "abstract"])
    func readyWatchdogStatusAndStoppingReachTheNotifySocket(form: String) async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let address = form == "path" ? fixture.directory.file("notify.sock") : "@worker-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let socket = try NotifySocket(address: address)
        let long = try await fixture.enqueue("sleep", #"{"ms": 1500}"#)
        let worker = try await fixture.start(
            ["--drain-timeout", "30"], environment: ["NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"])
        #expect(await eventually(timeout: .seconds(20)) { socket.fields.contains("READY=1") }, "\(socket.messages) \(worker.log)")
        #expect(await eventually(timeout: .seconds(20)) { socket.fields.filter { $0 == "WATCHDOG=1" }.count >= 3 }, "\(socket.messages)")
        #expect(socket.fields.contains { $0.hasPrefix("STATUS=running: ") }, "\(socket.messages)")
        #expect(await worker.waitForLog("job \(long) sleep started"))
        worker.signal(SIGTERM)
        #expect((await worker.waitForExit())?.status == 0, "\(worker.log)")
        // Datagrams sent just before the exit may still be on their way to the reader.
        #expect(await eventually(timeout: .seconds(10)) { socket.fields.contains("STOPPING=1") }, "\(socket.fields)")
        let fields = socket.fields
        let extensions = fields.filter { $0.hasPrefix("EXTEND_TIMEOUT_USEC=") }.compactMap { Int64($0.dropFirst("EXTEND_TIMEOUT_USEC=".count)) }
        #expect(!extensions.isEmpty, "\(fields)")
        // What the drain still needs: at most its 30 s deadline, the 1 s grace and 1 s to finish up.
        #expect(extensions.allSatisfy { $0 > 0 && $0 <= 32_000_000 }, "\(extensions)")
        let ready = try #require(fields.firstIndex(of: "READY=1"))
        let stopping = try #require(fields.firstIndex(of: "STOPPING=1"))
        #expect(ready < stopping)
        try await fixture.expectSound()
    }

    @Test func noWatchdogPingsWhenTheWatchdogIsMeantForAnotherProcess() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let socket = try NotifySocket(address: fixture.directory.file("notify.sock"))
        let worker = try await fixture.start(
            [], environment: ["NOTIFY_SOCKET": socket.address, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"])
        #expect(await eventually(timeout: .seconds(20)) { socket.fields.contains("READY=1") })
        try await Task.sleep(for: .seconds(1))
        worker.signal(SIGTERM)
        #expect((await worker.waitForExit())?.status == 0)
        #expect(await eventually(timeout: .seconds(10)) { socket.fields.contains("STOPPING=1") }, "\(socket.fields)")
        #expect(!socket.fields.contains("WATCHDOG=1"), "\(socket.fields)")
    }

    @Test func aRelativeNotifySocketIsAConfigurationError() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let job = try await fixture.enqueue("noop")
        let worker = try await fixture.start([], environment: ["NOTIFY_SOCKET": "relative/notify.sock"])
        #expect((await worker.waitForExit())?.status == 78, "\(worker.log)")
        #expect(worker.log.contains("worker: error: NOTIFY_SOCKET is 'relative/notify.sock'"), "\(worker.log)")
        #expect(try await fixture.journal.job(job).state == .queued)
    }
}
