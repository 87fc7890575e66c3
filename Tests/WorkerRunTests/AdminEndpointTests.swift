import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// `worker run --admin`: health, readiness and metrics over real HTTP, from the built binary.
@Suite struct AdminEndpointTests {
    /// The port the worker logged it listens on.
    static func port(of worker: RunningWorker) async -> Int? {
        await worker.adminPort()
    }

    /// The value of the sample `name{labels}` in a Prometheus text body.
    static func sample(_ body: String, _ series: String) -> Double? {
        body.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func healthReadinessAndMetricsAnswerOverHTTPAndFollowTheDrain() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        for _ in 0..<3 { try await fixture.enqueue("noop") }
        try await fixture.enqueue("fail", #"{"times": 1}"#)
        let long = try await fixture.enqueue("sleep", #"{"ms": 20000}"#)
        let worker = try await fixture.start(["--admin", "127.0.0.1:0", "--drain-timeout", "60"])
        let port = try #require(await Self.port(of: worker), "\(worker.log)")

        let health = try await HTTPProbe.get("/healthz", port: port)
        #expect(health.status == 200 && health.body == "ok\n")
        #expect(try await HTTPProbe.get("/nothing", port: port).status == 404)
        #expect(try await eventually { try await HTTPProbe.get("/readyz", port: port).status == 200 })
        // Counters move as jobs run: noop completes 3 times, fail fails once and completes on its retry (backoff
        // of a first retry is seconds: its second attempt is not awaited here), the long sleep runs.
        let noop = #"{handler="noop",queue="default"}"#
        var metrics = ""
        let counted = try await eventually(timeout: .seconds(30)) {
            metrics = try await HTTPProbe.get("/metrics", port: port).body
            return Self.sample(metrics, "worker_jobs_completed_total" + noop) == 3
                && Self.sample(metrics, #"worker_jobs_failed_total{handler="fail",queue="default"}"#) == 1
                && Self.sample(metrics, #"worker_jobs_started_total{handler="sleep",queue="default"}"#) == 1
                && Self.sample(metrics, #"worker_queue_jobs{queue="default",state="running"}"#) == 1
        }
        #expect(counted, "\(metrics)")
        #expect(Self.sample(metrics, "worker_jobs_started_total" + noop) == 3)
        #expect(Self.sample(metrics, "worker_job_duration_seconds_count" + noop) == 3)
        #expect(metrics.contains("# TYPE worker_job_duration_seconds histogram"))
        #expect(Self.sample(metrics, "worker_ready") == 1)
        #expect(Self.sample(metrics, "worker_drain_duration_seconds") == 0)

        // TERM: readiness flips to 503 at once, health stays 200 through the drain, the drain's length shows.
        worker.signal(SIGTERM)
        #expect(try await eventually(timeout: .seconds(10)) { try await HTTPProbe.get("/readyz", port: port).status == 503 })
        #expect(try await fixture.journal.job(long).state == .running, "the check must happen during the drain")
        let draining = try await HTTPProbe.get("/readyz", port: port)
        #expect(draining.status == 503 && draining.body == "draining\n")
        #expect(try await HTTPProbe.get("/healthz", port: port).status == 200)
        metrics = try await HTTPProbe.get("/metrics", port: port).body
        #expect(Self.sample(metrics, "worker_ready") == 0)
        #expect((Self.sample(metrics, "worker_drain_duration_seconds") ?? 0) > 0, "\(metrics)")
        #expect((await worker.waitForExit(timeout: .seconds(60)))?.status == 0, "\(worker.log)")
        #expect(try await fixture.journal.job(long).state == .completed)

        // Closed before exit, and bound again at once by the next worker.
        await #expect(throws: HTTPProbe.Failure.self) { try await HTTPProbe.get("/healthz", port: port) }
        let next = try await fixture.start(["--admin", "127.0.0.1:\(port)"], log: "next.log")
        #expect(await Self.port(of: next) == port, "\(next.log)")
        #expect(try await HTTPProbe.get("/healthz", port: port).status == 200)
        next.signal(SIGTERM)
        #expect((await next.waitForExit())?.status == 0, "\(next.log)")
        try await fixture.expectSound()
    }

    @Test func theEndpointsSocketsAreNotInheritedByChildProcesses() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let worker = try await fixture.start(["--admin", "127.0.0.1:0"])
        let port = try #require(await Self.port(of: worker), "\(worker.log)")
        #expect(try await eventually(timeout: .seconds(10)) { try await HTTPProbe.get("/readyz", port: port).status == 200 })
        let client = try ConnectedSocket(port: port)  // an open connection: its server side must be marked too
        var found: [(fd: String, cloexec: Bool)] = []
        #expect(try await eventually(timeout: .seconds(10)) {
            found = try Self.sockets(of: worker.pid, localPort: port)
            return found.count >= 2 && found.allSatisfy(\.cloexec)
        }, "\(found)")
        withExtendedLifetime(client) {}
        worker.signal(SIGTERM)
        #expect((await worker.waitForExit())?.status == 0)
    }

    /// The descriptors of `pid` that are TCP sockets on local `port` (listening or connected), with whether each
    /// is close-on-exec (from the kernel's socket table and `/proc/PID/fdinfo`).
    static func sockets(of pid: Int32, localPort port: Int) throws -> [(fd: String, cloexec: Bool)] {
        // Read to the end: the kernel makes this file a page per read, and a one-read loader can stop short.
        let table = try #require(FileHandle(forReadingAtPath: "/proc/net/tcp")).readToEnd().map { String(decoding: $0, as: UTF8.self) } ?? ""
        let local = String(format: "0100007F:%04X", port)
        var inodes = Set<String>()
        for line in table.split(separator: "\n") {
            let columns = line.split(separator: " ")
            if columns.count > 9 && columns[1] == local { inodes.insert("socket:[\(columns[9])]") }
        }
        var found: [(fd: String, cloexec: Bool)] = []
        for fd in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                  inodes.contains(target),
                  let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8),
                  let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }),
                  let flags = Int(line.split(separator: "\t").last ?? "", radix: 8) else { continue }
            found.append((fd, flags & Int(O_CLOEXEC) != 0))
        }
        return found
    }

    @Test func aPortInUseStopsTheWorkerBeforeItTakesAnyJob() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let job = try await fixture.enqueue("noop")
        let holder = try ListeningSocket()
        let worker = try await fixture.start(["--admin", "127.0.0.1:\(holder.port)"])
        let exit = await worker.waitForExit()
        #expect(exit?.status == 75, "\(worker.log)")
        #expect(worker.log.contains("worker: error: --admin 127.0.0.1:\(holder.port): the address is in use"), "\(worker.log)")
        #expect(try await fixture.journal.job(job).state == .queued)
        #expect(try await fixture.journal.liveWorkerCount() == 0)
        try await fixture.expectSound()
    }

    @Test func jobsRecoveredFromADeadWorkerAreCounted() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let job = try await fixture.enqueue("sleep", #"{"ms": 60000}"#)
        let first = try await fixture.start(log: "first.log")
        #expect(await first.waitForLog("job \(job) sleep started"))
        first.signal(SIGKILL)
        _ = await first.waitForExit()
        let second = try await fixture.start(["--admin", "127.0.0.1:0"], log: "second.log")
        let port = try #require(await Self.port(of: second), "\(second.log)")
        var metrics = ""
        #expect(try await eventually(timeout: .seconds(30)) {
            metrics = try await HTTPProbe.get("/metrics", port: port).body
            return Self.sample(metrics, #"worker_jobs_recovered_total{handler="sleep",queue="default"}"#) == 1
        }, "\(metrics)")
        second.signal(SIGQUIT)
        #expect((await second.waitForExit())?.status == 0)
        try await fixture.expectSound()
    }
}

/// A TCP socket listening on a free loopback port, to take a port away from the worker.
final class ListeningSocket {
    let descriptor: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && listen(descriptor, 1) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw HTTPProbe.Failure(description: "cannot listen on loopback: \(String(cString: strerror(errno)))") }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}

/// A TCP connection to a loopback port, held open until released.
final class ConnectedSocket {
    let descriptor: Int32

    init(port: Int) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HTTPProbe.Failure(description: "connect: \(String(cString: strerror(errno)))") }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }
}
