import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// systemd's notification protocol (sd_notify(3)), written by hand: one datagram of `KEY=value` lines to the
/// socket named by `$NOTIFY_SOCKET`, a file path or, starting with `@`, an abstract address. No library of the
/// project speaks it, and libsystemd is not linked. Without `$NOTIFY_SOCKET` there is no notifier.
public final class SystemdNotifier: Sendable {
    /// The socket's address as given (`/run/…` or `@name`).
    public let address: String
    /// How often systemd expects `WATCHDOG=1` (`$WATCHDOG_USEC`, for this process); nil when it does not.
    public let watchdogInterval: Duration?
    private let descriptor: Int32
    private let socketAddress: Data

    /// A notifier for `$NOTIFY_SOCKET` in `environment`; nil when it is unset or empty. Fails when the address
    /// is not a path or an abstract name, or the socket cannot be made.
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let address = environment["NOTIFY_SOCKET"], !address.isEmpty else { return nil }
        var path = Array(address.utf8)
        if path.first == UInt8(ascii: "@") {
            path[0] = 0  // abstract namespace: a leading NUL, and the length counts only the bytes given
        } else if path.first != UInt8(ascii: "/") {
            throw WorkerError(.config, "NOTIFY_SOCKET is '\(address)': expected an absolute path or an @abstract name")
        }
        var storage = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        guard path.count < capacity else {
            throw WorkerError(.config, "NOTIFY_SOCKET is \(path.count) bytes long: at most \(capacity - 1) fit a socket address")
        }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { buffer in buffer.copyBytes(from: path) }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (path[0] == 0 ? 0 : 1)
        socketAddress = withUnsafeBytes(of: &storage) { Data($0.prefix(length)) }
        // CLOEXEC: a process a plugin starts must not inherit the socket.
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw WorkerError(.io, "cannot create a socket for NOTIFY_SOCKET: \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        self.address = address
        watchdogInterval = Self.watchdogInterval(environment)
    }

    deinit {
        close(descriptor)
    }

    /// Sends `fields` as one datagram (`READY=1`, `STATUS=…`); returns whether it was sent. Never blocks.
    @discardableResult
    public func notify(_ fields: [String]) -> Bool {
        let message = Array(fields.joined(separator: "\n").utf8)
        return socketAddress.withUnsafeBytes { address in
            message.withUnsafeBytes { bytes in
                sendto(descriptor, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL),
                       address.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(address.count)) == bytes.count
            }
        }
    }

    /// `$WATCHDOG_USEC` when it is meant for this process (`$WATCHDOG_PID` unset or ours).
    private static func watchdogInterval(_ environment: [String: String]) -> Duration? {
        guard let value = environment["WATCHDOG_USEC"], let micros = Int64(value), micros > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], !pid.isEmpty, Int32(pid) != getpid() { return nil }
        return .microseconds(micros)
    }
}
