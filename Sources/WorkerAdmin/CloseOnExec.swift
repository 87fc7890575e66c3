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
            var info = Glibc.stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { continue }
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

    /// The local (or peer) port of an IPv4 or IPv6 socket.
    private static func port(of fd: Int32, peer: Bool) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let got = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
        }
        guard got == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: Glibc.sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: Glibc.sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return nil
        }
    }
}
