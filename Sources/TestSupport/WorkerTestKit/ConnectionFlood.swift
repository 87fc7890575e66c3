import Foundation

/// Many TCP connections to a local HTTP server that do what a slowloris attacker does: connect and send
/// nothing, send part of a request's headers and trickle the rest, or make one keep-alive request and then sit
/// idle. Used by the admin endpoint's tests and `bench drain-under-flood`; traffic goes to 127.0.0.1 only.
/// Not thread-safe: one task or thread drives it.
public final class ConnectionFlood {
    /// What a connection does once connected.
    public enum Kind: Sendable {
        /// Sends nothing.
        case silent
        /// Sends the start of a request's headers, never their end (`trickle()` adds a byte).
        case halfOpen
        /// Makes one complete keep-alive request, reads the answer, then stays idle.
        case idleAfterRequest
    }

    public let port: Int
    private var sockets: [Int32] = []
    /// Connections the server closed (seen by `reap()`).
    public private(set) var closedByServer = 0
    /// Connections that could not be made (refused, timed out).
    public private(set) var failedConnects = 0

    public init(port: Int) {
        self.port = port
    }

    deinit {
        for socket in sockets { close(socket) }
    }

    /// Connections still open on this side (the server may have closed some since the last `reap()`).
    public var openCount: Int { sockets.count }

    /// Opens `count` connections of `kind`. Each connect waits at most `connectTimeout`.
    public func open(_ count: Int, _ kind: Kind, connectTimeout: Duration = .seconds(2)) {
        for _ in 0..<count {
            guard let socket = connect(timeout: connectTimeout) else {
                failedConnects += 1
                continue
            }
            switch kind {
            case .silent:
                break
            case .halfOpen:
                _ = send(socket, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            case .idleAfterRequest:
                _ = send(socket, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                var buffer = [UInt8](repeating: 0, count: 4096)
                _ = recv(socket, &buffer, buffer.count, 0)  // the answer (the receive timeout bounds the wait)
            }
            sockets.append(socket)
        }
    }

    /// Sends one more header byte on every open connection (a slowloris keeps its requests alive this way).
    public func trickle() {
        for socket in sockets { _ = send(socket, "a") }
    }

    /// Closes (on this side) and forgets the connections the server closed; returns how many are still open.
    @discardableResult
    public func reap() -> Int {
        var open: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        for socket in sockets {
            var closed = false
            while true {
                let count = recv(socket, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if count > 0 { continue }  // an answer or an error page: read past it
                closed = count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
                break
            }
            if closed {
                close(socket)
                closedByServer += 1
            } else {
                open.append(socket)
            }
        }
        sockets = open
        return open.count
    }

    /// Closes the `count` oldest connections on this side.
    public func closeOldest(_ count: Int) {
        let gone = sockets.prefix(count)
        for socket in gone { close(socket) }
        sockets.removeFirst(gone.count)
    }

    /// Closes every connection on this side.
    public func closeAll() {
        closeOldest(sockets.count)
    }

    private func connect(timeout: Duration) -> Int32? {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { return nil }
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))  // bounds connect too
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            return nil
        }
        return socket
    }

    private func send(_ socket: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return Foundation.send(socket, bytes, bytes.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) == bytes.count
    }
}

/// Open file descriptors of process `pid` (from /proc/PID/fd); nil when it is gone.
public func openDescriptors(of pid: Int32) -> Int? {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
}
