import Dispatch
import Foundation
import Synchronization

/// A stand-in for systemd's notification socket: a datagram socket bound at a path or an abstract `@name`,
/// collecting every message a process sends to `$NOTIFY_SOCKET`.
public final class NotifySocket: @unchecked Sendable {  // the Dispatch source is thread-safe; `received` has its lock
    /// The address to put in `NOTIFY_SOCKET`.
    public let address: String
    private let descriptor: Int32
    private let received = Received()
    private let source: any DispatchSourceRead

    /// Binds `address` (`/path` or `@name`).
    public init(address: String) throws {
        self.address = address
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard descriptor >= 0 else { throw HTTPProbe.Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var path = Array(address.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        var storage = sockaddr_un()
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (path[0] == 0 ? 0 : 1))
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        guard bound == 0 else {
            close(descriptor)
            throw HTTPProbe.Failure(description: "bind \(address): \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        source = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: DispatchQueue(label: "test.notify-socket"))
        let fd = descriptor
        source.setEventHandler { [received] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(fd, &buffer, buffer.count, 0)
                guard count > 0 else { return }
                let message = String(decoding: buffer[0..<count], as: UTF8.self)
                received.list.withLock { $0.append(message) }
            }
        }
        source.setCancelHandler { close(fd) }
        source.activate()
    }

    deinit {
        source.cancel()
        if address.hasPrefix("/") { unlink(address) }
    }

    /// Every datagram received so far, in order.
    public var messages: [String] { received.list.withLock { $0 } }

    /// Every `KEY=value` line received so far, in order.
    public var fields: [String] { messages.flatMap { $0.split(separator: "\n").map(String.init) } }
}

private final class Received: Sendable {
    let list = Mutex<[String]>([])
}
