import Foundation
import Synchronization

/// A private PostgreSQL server for the tests of this process: initialised in a temporary directory on first use,
/// listening on a free loopback port, stopped when the process exits. Each test asks for a database of its own.
///
/// PostgreSQL refuses to run as root, so as root its programs run as the `postgres` user (`runuser`). The server
/// is Debian's (`scripts/install-deps` installs it); `WORKER_TEST_PG_BIN` names another binary directory.
public actor PostgresTestServer {
    /// The server of this test process.
    public static let shared = PostgresTestServer()

    /// A second server for the tests of `NetworkLab` hosts: `allow(subnet:listenOn:)` restarts a server that runs
    /// without the bridge's address, which would end the sessions of every other test on `shared`. The labs'
    /// bridge lives as long as the process, so this one starts (or restarts) once, for the first lab.
    /// Its URLs keep the product's connect timeout: its tests cut links, and a cut-off worker's connects should fail
    /// as they would in production.
    public static let networked = PostgresTestServer(connectTimeout: nil)

    public struct Started: Sendable {
        public let port: Int
        public let directory: String
        public let bin: String
    }

    private var started: Started?
    private var databases = 0
    /// Where the server listens: loopback, and the addresses `allow(subnet:listenOn:)` added.
    private var listenAddresses = ["127.0.0.1"]
    /// The subnets `allow(subnet:listenOn:)` let in (trust, as loopback is).
    private var trustedSubnets: [String] = []

    /// The `connect_timeout` (seconds) of the URLs `database(_:)` gives, or nil for the product's default (5 s).
    private let connectTimeout: Int?

    /// A server of its own, for a test that stops or restarts it (the shared one serves tests running at once).
    /// Stop it with `stop()`; it is stopped at exit otherwise.
    ///
    /// `connectTimeout` is the `connect_timeout` of the URLs it gives: 60 s unless told, as the tests' own journals
    /// wait (`options.connectTimeout`). At the suite's peak (every PostgreSQL suite at once on two cores, hundreds of
    /// sessions) a new session, the TCP connect and the server's start of its backend, has been seen to take more
    /// than the product's 5 s, and a command then failed with 75 before doing what its test checks. Nothing is
    /// slower for it: the timeout only bounds a wait that ends when the server answers.
    public init(connectTimeout: Int? = 60) {
        self.connectTimeout = connectTimeout
    }

    /// The directory of PostgreSQL's programs.
    public static var binDirectory: String? {
        if let dir = ProcessInfo.processInfo.environment["WORKER_TEST_PG_BIN"], !dir.isEmpty { return dir }
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let newest: Int? = versions.compactMap { Int($0) }.max()
        guard let newest else { return nil }
        let bin = "\(root)/\(newest)/bin"
        return FileManager.default.isExecutableFile(atPath: bin + "/initdb") ? bin : nil
    }

    /// Starts the server once; later calls (also those made while it starts) return the same.
    public func start() async throws -> Started {
        if let started { return started }
        if let starting { return try await starting.value }
        let task = Task { try await self.startNow() }
        starting = task
        defer { starting = nil }
        return try await task.value
    }

    private var starting: Task<Started, any Error>?

    private func startNow() async throws -> Started {
        guard let bin = Self.binDirectory else {
            throw TestServerError("no PostgreSQL server programs under /usr/lib/postgresql: run scripts/install-deps")
        }
        let directory = try TemporaryDirectory("pg").path
        _ = chmod(directory, 0o777)  // the server's user writes its data and socket here
        let port = try freePort()
        try await asServerUser(bin + "/initdb", ["-D", directory + "/data", "-A", "trust", "-U", "worker", "-N", "-E", "UTF8", "--locale=C.UTF-8"])
        for subnet in trustedSubnets { try trust(subnet, data: directory + "/data") }
        let result = Started(port: port, directory: directory, bin: bin)
        try await pgCtl(result, "start")
        started = result
        ServerStopper.register(bin: bin, data: directory + "/data")
        return result
    }

    /// A new empty database on the server, as a URL.
    public func database(_ label: String = "t") async throws -> String {
        let server = try await start()
        databases += 1
        let name = "\(label.lowercased().filter { $0.isLetter || $0.isNumber })_\(getpid())_\(databases)"
        let result = try await runProcess(server.bin + "/psql", [
            "-h", "127.0.0.1", "-p", "\(server.port)", "-U", "worker", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q",
            "-c", "CREATE DATABASE \(name)",
        ])
        guard result.status == 0 else { throw TestServerError("CREATE DATABASE \(name) failed: \(result.stderr)") }
        return "postgres://worker@127.0.0.1:\(server.port)/\(name)?sslmode=disable" + (connectTimeout.map { "&connect_timeout=\($0)" } ?? "")
    }

    /// Runs SQL on `url`'s database with psql and returns its unaligned, tuples-only output.
    public func psql(_ url: String, _ sql: String) async throws -> String {
        let server = try await start()
        let result = try await runProcess(server.bin + "/psql", [url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql])
        guard result.status == 0 else { throw TestServerError("psql failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Restarts the server: `fast` ends every session cleanly, as a maintenance restart or a failover does;
    /// `immediate` stops it as a crash would, and it recovers from its WAL at start.
    public func restart(mode: String = "fast") async throws {
        let server = try await start()
        try await pgCtl(server, "restart", "-m", mode)
    }

    /// Stops the server as a crash would (`-m immediate`), keeping its files for `startAgain`: clients find
    /// nothing listening meanwhile.
    public func crash() async throws {
        try await pgCtl(try await start(), "stop", "-m", "immediate")
    }

    /// Starts the server `crash` stopped; it recovers from its WAL.
    public func startAgain() async throws {
        try await pgCtl(try await start(), "start")
    }

    /// Runs `pg_ctl ACTION` on `server` as the server's user, waiting for it (up to 60 s); a start or restart gets
    /// the server's log and settings.
    private func pgCtl(_ server: Started, _ action: String, _ options: String...) async throws {
        var arguments = ["-D", server.directory + "/data", "-w", "-t", "60"] + options
        if action != "stop" {
            arguments += ["-l", server.directory + "/log", "-o", settings(port: server.port, directory: server.directory)]
        }
        try await asServerUser(server.bin + "/pg_ctl", arguments + [action])
    }

    /// Stops the server (`-m immediate`: as if it crashed) and removes its files.
    public func stop() async throws {
        guard let server = started else { return }
        started = nil
        try await pgCtl(server, "stop", "-m", "immediate")
        try? FileManager.default.removeItem(atPath: server.directory)
    }

    /// Lets clients from `subnet` (`A.B.C.D/N`) in as loopback clients are (a `host all all SUBNET trust` line in
    /// pg_hba.conf, then a reload) and listens on `address` too, for the hosts of a `NetworkLab`. The address must
    /// exist when this is called. A server already running without that address restarts once (every session on it
    /// ends, as in `restart()`): labs use `networked`, never `shared`, so no other test's sessions are cut. A server
    /// not started yet starts with both; nothing changes for tests that never call this.
    @discardableResult
    public func allow(subnet: String, listenOn address: String) async throws -> Started {
        let isAddress = { (text: String) in !text.isEmpty && text.allSatisfy { $0.isNumber || $0 == "." || $0 == "/" } }
        guard isAddress(subnet), isAddress(address) else { throw TestServerError("not an IPv4 subnet and address: \(subnet) \(address)") }
        let newSubnet = !trustedSubnets.contains(subnet), newAddress = !listenAddresses.contains(address)
        if newSubnet { trustedSubnets.append(subnet) }
        if newAddress { listenAddresses.append(address) }
        guard let server = started else { return try await start() }
        if newSubnet {
            try trust(subnet, data: server.directory + "/data")
            if !newAddress { try await asServerUser(server.bin + "/pg_ctl", ["-D", server.directory + "/data", "reload"]) }
        }
        if newAddress { try await restart() }  // listen_addresses is read at start only
        return server
    }

    /// The server's command-line settings. Functional tests only: fsync off (a server crash is never simulated by
    /// these; the bench runs durable).
    private func settings(port: Int, directory: String) -> String {
        "-p \(port) -k \(directory) -c listen_addresses=\(listenAddresses.joined(separator: ",")) -c fsync=off -c full_page_writes=off -c max_connections=1000"
    }

    /// Appends a trust line for `subnet` to the cluster's pg_hba.conf (read at start and at reload).
    private func trust(_ subnet: String, data: String) throws {
        guard let file = FileHandle(forWritingAtPath: data + "/pg_hba.conf") else { throw TestServerError("cannot open \(data)/pg_hba.conf") }
        defer { try? file.close() }
        try file.seekToEnd()
        try file.write(contentsOf: Data("host all all \(subnet) trust\n".utf8))
    }

    private func asServerUser(_ program: String, _ arguments: [String]) async throws {
        let result = getuid() == 0
            ? try await runProcess("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments)
            : try await runProcess(program, arguments)
        guard result.status == 0 else {
            throw TestServerError("\(program) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
        }
    }

    private func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestServerError("cannot find a free port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A test server failed to start or answer.
public struct TestServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Stops the test servers when the test process exits, so that no server outlives its tests.
private enum ServerStopper {
    /// The stop command of each server started, in order; the exit handler is installed with the first.
    static let commands = Mutex<[[String]]>([])

    static func register(bin: String, data: String) {
        let stop = [bin + "/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"]
        let command = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + stop : stop
        let first = commands.withLock { commands in
            commands.append(command)
            return commands.count == 1
        }
        guard first else { return }
        atexit {
            for command in ServerStopper.commands.withLock({ $0 }) where FileManager.default.fileExists(atPath: command[command.count - 5]) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: command[0])
                process.arguments = Array(command.dropFirst())
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try? process.run()
                process.waitUntilExit()
                // The data directory (its WAL grows to gigabytes over a suite) goes with the server.
                let data = URL(fileURLWithPath: command[command.count - 5])
                try? FileManager.default.removeItem(at: data.deletingLastPathComponent())
            }
        }
    }
}
