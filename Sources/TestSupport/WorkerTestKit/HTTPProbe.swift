import Dispatch
import Foundation

/// A plain HTTP/1.1 GET over a new TCP connection (`Connection: close`), as a prober would send it. Runs on a
/// Dispatch thread so that a slow server never blocks Swift's cooperative pool.
public enum HTTPProbe {
    /// A response: its status and body.
    public struct Response: Sendable {
        public let status: Int
        public let body: String
        /// Header fields, names lowercased (the last of a repeated name).
        public var headers: [String: String] = [:]
    }

    /// What went wrong: "connection refused" and the like.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// GETs `path` from `host` (an IPv4 address) and `port`; fails when nothing listens there.
    public static func get(_ path: String, port: Int, host: String = "127.0.0.1", timeout: Duration = .seconds(10)) async throws -> Response {
        try await request("GET", path, port: port, host: host, timeout: timeout)
    }

    /// Sends `method` `path` with `headers` and `body` (a form body gets its content type unless `headers` name
    /// one) and reads the whole response.
    public static func request(
        _ method: String, _ path: String, port: Int, host: String = "127.0.0.1", headers: [String: String] = [:], body: String? = nil,
        timeout: Duration = .seconds(10)
    ) async throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        var headers = headers
        if let body {
            if !headers.keys.contains(where: { $0.lowercased() == "content-type" }) { headers["Content-Type"] = "application/x-www-form-urlencoded" }
            headers["Content-Length"] = String(body.utf8.count)
        }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        let request = Array((head + "\r\n" + (body ?? "")).utf8)
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try exchange(request, port: port, host: host, timeout: timeout) })
            }
        }
    }

    private static func exchange(_ request: [UInt8], port: Int, host: String, timeout: Duration) throws -> Response {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var limit = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect to \(host):\(port): \(String(cString: strerror(errno)))") }
        guard send(descriptor, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
            throw Failure(description: "send: \(String(cString: strerror(errno)))")
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count < 0 { throw Failure(description: "recv: \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            received += chunk[0..<count]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let statusLine = text.split(separator: "\r\n", maxSplits: 1).first,
              let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }),
              let headerEnd = text.range(of: "\r\n\r\n") else {
            throw Failure(description: "not an HTTP response: \(text.prefix(200))")
        }
        var headers: [String: String] = [:]
        for line in text[..<headerEnd.lowerBound].split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Response(status: status, body: String(text[headerEnd.upperBound...]), headers: headers)
    }
}
