import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Marks the admin endpoint's sockets close-on-exec. SwiftNIO makes its sockets without `SOCK_CLOEXEC` and
/// gives no access to their descriptors, so a process a plugin starts with fork/exec would inherit the
/// listening port and hold it after the worker exits ("address already in use" on restart). The sockets are
/// found by their ports in `/proc/self/fd` and marked with `FD_CLOEXEC`; the listening one before the worker
/// recovers or runs any job, each connection as it is admitted (`GuardedHTTP1Channel`).
enum CloseOnExec {
    /// Marks the sockets bound to local `port` (and, when given, connected to remote `peerPort`; else listening).
    /// Returns how many it marked.
    @discardableResult
    static func markSockets(localPort: Int, peerPort: Int? = nil) -> Int {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return 0 }
        var marked = 0
        for entry in entries {
            guard let fd = Int32(entry) else { continue }
            let flags = fcntl(fd, F_GETFD)
            guard flags >= 0, flags & FD_CLOEXEC == 0, port(of: fd, peer: false) == localPort else { continue }
            if let peerPort {
                guard port(of: fd, peer: true) == peerPort else { continue }
            } else {
                var listening: Int32 = 0
                var size = socklen_t(MemoryLayout<Int32>.size)
                guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0, listening == 1 else { continue }
            }
            if fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0 { marked += 1 }
        }
        return marked
    }

    /// The local (or peer) port of an IPv4 or IPv6 socket; nil for anything else (not a socket: ENOTSOCK).
    /// The address is read as bytes (family in host order at 0, port in network order at 2, for both families):
    /// libc's structures are declared by several modules here, and which one owns their members depends on the
    /// build's module order.
    private static func port(of fd: Int32, peer: Bool) -> Int? {
        var storage = [UInt8](repeating: 0, count: 128)
        var length = socklen_t(storage.count)
        let got = storage.withUnsafeMutableBytes { bytes in
            bytes.baseAddress!.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
        }
        guard got == 0, length >= 4 else { return nil }
        let family = Int32(UInt16(storage[0]) | UInt16(storage[1]) << 8)
        guard family == AF_INET || family == AF_INET6 else { return nil }
        return Int(UInt16(storage[2]) << 8 | UInt16(storage[3]))
    }
}
