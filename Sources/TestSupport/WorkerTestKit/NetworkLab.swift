import Foundation
import Synchronization

/// Several "hosts" on this machine, for tests of workers on many hosts: each host is a network namespace joined to
/// a bridge by a veth pair, with an address on a private /24 and its loopback up. The bridge holds the subnet's
/// first address, on which the labs' PostgreSQL server listens (`PostgresTestServer.networked.allow(subnet:listenOn:)`), so
/// a process in a host reaches the server only over its own link, and `cut(host:)` takes that link down as a
/// pulled cable would: no FIN, no RST, packets just stop.
///
/// Needs root and iproute2 (`isAvailable`). The bridge is one per test process (named `wb<pid % 10000>`, its alias
/// `worker-lab-<pid>`) and lives until the process exits: the server binds its address once, and a bridge made
/// again for every lab would need a server restart each time. Each lab's hosts are its own; `teardown()` (or
/// `NetworkLab.with`) removes them, an exit handler removes whatever is left, and the first lab of a process
/// removes the namespaces and links of earlier test processes that died without cleaning up.
public final class NetworkLab: Sendable {
    /// One host: a network namespace with one link to the bridge.
    public struct Host: Sendable {
        /// Its position in the lab, from 0.
        public let index: Int
        /// The network namespace's name (`worker-lab-<pid>-<n>`).
        public let namespace: String
        /// Its address on the bridge's subnet.
        public let address: String
        /// The veth end on the bridge (in the test's namespace).
        public let outside: String
        /// The veth end inside the namespace, the one `cut` takes down.
        public let inside: String
    }

    /// The bridge every lab of this process joins.
    public struct Bridge: Sendable {
        /// The link's name.
        public let name: String
        /// The subnet, as `A.B.C.0/24`.
        public let subnet: String
        /// The bridge's own address (the server's, as the hosts see it).
        public let address: String
        let base: String
    }

    /// The bridge.
    public let bridge: Bridge
    /// The hosts, in order.
    public let hosts: [Host]

    private init(bridge: Bridge, hosts: [Host]) {
        self.bridge = bridge
        self.hosts = hosts
    }

    /// The prefix of every name a lab gives (namespaces, link aliases), followed by the owning process's pid.
    static let prefix = "worker-lab-"
    public static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/sbin/ip"

    /// Whether labs can be built here: root, iproute2, and the kernel lets this process add a network namespace.
    @Sendable public static func isAvailable() async -> Bool {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: ip) else { return false }
        let probe = "\(prefix)\(getpid())-probe"
        guard (try? await runProcess(ip, ["netns", "add", probe]).status) == 0 else { return false }
        _ = try? await runProcess(ip, ["netns", "del", probe])
        return true
    }

    /// Builds a lab of `count` hosts on the process's bridge (made on first use, after removing what dead test
    /// processes left behind).
    public static func make(hosts count: Int) async throws -> NetworkLab {
        let bridge = try await BridgeKeeper.shared.bridge()
        var hosts: [Host] = []
        do {
            for index in 0..<count {
                hosts.append(try await addHost(index: index, bridge: bridge))
            }
        } catch {
            for host in hosts { await remove(host) }
            throw error
        }
        return NetworkLab(bridge: bridge, hosts: hosts)
    }

    /// Builds a lab, runs `body` with it, and tears the lab down however `body` ends.
    public static func with<T: Sendable>(hosts count: Int, _ body: (NetworkLab) async throws -> T) async throws -> T {
        let lab = try await make(hosts: count)
        do {
            let result = try await body(lab)
            await lab.teardown()
            return result
        } catch {
            await lab.teardown()
            throw error
        }
    }

    /// `url` (a database URL on 127.0.0.1, as `PostgresTestServer` gives) as the hosts reach it: on the bridge's
    /// address.
    public func hostURL(_ url: String) -> String {
        url.replacingOccurrences(of: "@127.0.0.1:", with: "@\(bridge.address):")
    }

    /// Runs `program` in host `host`'s namespace to its end.
    public func run(host: Int, _ program: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) async throws -> ProcessResult {
        try await runProcess(Self.ip, ["netns", "exec", hosts[host].namespace, program] + arguments, environment: environment, stdin: stdin)
    }

    /// Starts a long-running `program` (default: the worker binary) in host `host`'s namespace; its output goes to
    /// `logPath`. `ip netns exec` execs the program itself, so the returned pid is the program's.
    public func start(host: Int, _ arguments: [String], program: String? = nil, logPath: String, environment: [String: String] = [:]) async throws -> RunningWorker {
        try await RunningWorker(
            ["netns", "exec", hosts[host].namespace, program ?? ProductBinary.path("worker")] + arguments,
            logPath: logPath, environment: environment, executable: Self.ip)
    }

    /// Takes host `host`'s link down from inside its namespace: its packets stop both ways, and nobody is told.
    public func cut(host: Int) async throws {
        try await Self.ipCommand(["-n", hosts[host].namespace, "link", "set", hosts[host].inside, "down"])
    }

    /// Brings host `host`'s link back (its address and route come back with it).
    public func restore(host: Int) async throws {
        try await Self.ipCommand(["-n", hosts[host].namespace, "link", "set", hosts[host].inside, "up"])
    }

    /// Removes every host of the lab, killing what still runs in them. Safe to call twice.
    public func teardown() async {
        for host in hosts { await Self.remove(host) }
    }

    // MARK: - Building and removing

    /// Removes the namespaces (and what runs in them) and links that labs of test processes now gone left behind
    /// (their names or aliases carry the prefix and the owner's pid). The first lab of a process calls this.
    public static func removeLeftovers() async {
        func isStale(_ name: String) -> Bool {
            guard name.hasPrefix(prefix) else { return false }
            let pid = name.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let pid = Int32(pid), pid != getpid() else { return false }
            return kill(pid, 0) != 0 && errno == ESRCH
        }
        for namespace in ((try? await json(["netns", "list"])) ?? []).compactMap({ $0["name"] as? String }) where isStale(namespace) {
            await killProcesses(in: namespace)
            _ = try? await runProcess(ip, ["netns", "del", namespace])
        }
        for link in (try? await json(["link", "show"])) ?? [] {
            guard let name = link["ifname"] as? String, let alias = link["ifalias"] as? String, isStale(alias) else { continue }
            _ = try? await runProcess(ip, ["link", "del", name])
        }
    }

    private static func addHost(index: Int, bridge: Bridge) async throws -> Host {
        let number = try await BridgeKeeper.shared.nextHostNumber()
        let suffix = bridge.name.dropFirst(2)  // the bridge's number
        let host = Host(
            index: index, namespace: "\(prefix)\(getpid())-\(number)", address: "\(bridge.base).\(number)",
            outside: "wv\(suffix)o\(number)", inside: "wv\(suffix)i\(number)")
        BridgeKeeper.shared.remember(host.namespace)
        try await ipCommand(["netns", "add", host.namespace])
        try await ipCommand(["link", "add", host.outside, "type", "veth", "peer", "name", host.inside, "netns", host.namespace])
        try await ipCommand(["link", "set", host.outside, "alias", "\(prefix)\(getpid())"])
        try await ipCommand(["link", "set", host.outside, "master", bridge.name])
        try await ipCommand(["link", "set", host.outside, "up"])
        try await ipCommand(["-n", host.namespace, "addr", "add", "\(host.address)/24", "dev", host.inside])
        try await ipCommand(["-n", host.namespace, "link", "set", host.inside, "up"])
        try await ipCommand(["-n", host.namespace, "link", "set", "lo", "up"])
        return host
    }

    private static func remove(_ host: Host) async {
        await killProcesses(in: host.namespace)
        _ = try? await runProcess(ip, ["netns", "del", host.namespace])
        _ = try? await runProcess(ip, ["link", "del", host.outside])  // gone with its peer already, normally
        BridgeKeeper.shared.forget(host.namespace)
    }

    /// SIGKILL for every process still in `namespace` (what the lab's tests started there).
    static func killProcesses(in namespace: String) async {
        guard let result = try? await runProcess(ip, ["netns", "pids", namespace]), result.status == 0 else { return }
        for pid in result.stdout.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
    }

    static func ipCommand(_ arguments: [String]) async throws {
        let result = try await runProcess(ip, arguments)
        guard result.status == 0 else {
            throw LabError("ip \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// Parses `ip -j ...` output: an array of objects.
    static func json(_ arguments: [String]) async throws -> [[String: Any]] {
        let result = try await runProcess(ip, ["-j"] + arguments)
        guard result.status == 0 else { throw LabError("ip -j \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
        let text = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return [] }
        return (try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]]) ?? []
    }
}

/// A lab could not be built.
public struct LabError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The process's bridge, made once; the host numbers handed out; the namespaces to remove at exit.
private actor BridgeKeeper {
    static let shared = BridgeKeeper()

    private var made: NetworkLab.Bridge?
    private var hostNumber = 1  // .1 is the bridge's
    /// Namespaces not yet removed, for the exit handler (read on the exiting thread, so not actor state).
    private static let alive = Mutex<Set<String>>([])
    nonisolated(unsafe) private static var bridgeName: String?  // set once, before the exit handler can run

    private var making: Task<NetworkLab.Bridge, any Error>?

    /// The process's bridge, made once however many labs ask at once (an actor's method is reentrant at each
    /// `await`: without `making`, two labs would both make one).
    func bridge() async throws -> NetworkLab.Bridge {
        if let made { return made }
        if let making { return try await making.value }
        let task = Task { try await self.makeBridge() }
        making = task
        defer { making = nil }
        return try await task.value
    }

    private func makeBridge() async throws -> NetworkLab.Bridge {
        await NetworkLab.removeLeftovers()
        let pid = Int(getpid())
        for attempt in 0..<200 {
            let number = (pid + attempt) % 10000
            let name = "wb\(number)"
            let base = "10.\(200 + number / 250 % 50).\(number % 250)"
            guard try await isFree(name: name, base: base) else { continue }
            try await NetworkLab.ipCommand(["link", "add", name, "type", "bridge"])
            Self.bridgeName = name
            atexit { BridgeKeeper.removeAtExit() }
            try await NetworkLab.ipCommand(["link", "set", name, "alias", "\(NetworkLab.prefix)\(pid)"])
            try await NetworkLab.ipCommand(["addr", "add", "\(base).1/24", "dev", name])
            try await NetworkLab.ipCommand(["link", "set", name, "up"])
            let bridge = NetworkLab.Bridge(name: name, subnet: "\(base).0/24", address: "\(base).1", base: base)
            made = bridge
            return bridge
        }
        throw LabError("no free bridge name and /24 subnet found for a network lab")
    }

    func nextHostNumber() throws -> Int {
        hostNumber += 1
        guard hostNumber < 255 else { throw LabError("a network lab has at most 253 hosts per test process") }
        return hostNumber
    }

    nonisolated func remember(_ namespace: String) { _ = Self.alive.withLock { $0.insert(namespace) } }
    nonisolated func forget(_ namespace: String) { _ = Self.alive.withLock { $0.remove(namespace) } }

    /// Whether no link is called `name` and no address or route of this machine lies in `base`.0/24.
    private func isFree(name: String, base: String) async throws -> Bool {
        let links = try await NetworkLab.json(["link", "show"])
        if links.contains(where: { $0["ifname"] as? String == name }) { return false }
        let addresses = try await NetworkLab.json(["-4", "addr", "show"]).flatMap { ($0["addr_info"] as? [[String: Any]]) ?? [] }
        if addresses.contains(where: { ($0["local"] as? String)?.hasPrefix(base + ".") == true }) { return false }
        let routes = try await NetworkLab.json(["-4", "route", "show", "table", "all"])
        return !routes.contains { ($0["dst"] as? String)?.hasPrefix(base + ".") == true }
    }

    /// The exit handler: removes the namespaces no teardown removed, then the bridge. Runs `ip` with Foundation's
    /// `Process`, as the test server's stopper does: nothing asynchronous runs any more at exit.
    private static func removeAtExit() {
        func ip(_ arguments: [String]) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: NetworkLab.ip)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try? process.run()
            process.waitUntilExit()
        }
        for namespace in alive.withLock({ $0 }) {
            let pids = Pipe()
            let list = Process()
            list.executableURL = URL(fileURLWithPath: NetworkLab.ip)
            list.arguments = ["netns", "pids", namespace]
            list.standardOutput = pids
            list.standardError = FileHandle.nullDevice
            try? list.run()
            list.waitUntilExit()
            let text = String(decoding: pids.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            for pid in text.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            ip(["netns", "del", namespace])
        }
        if let bridgeName { ip(["link", "del", bridgeName]) }
    }
}
