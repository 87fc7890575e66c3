import Foundation
import WorkerPlugin

/// `append {"path": P, "text": T, "steps": K=1, "ms": M=0}`: for i in 1...K, sleeps M ms then appends the line
/// `T:i` to P and fsyncs it, as a journaled step: a resumed job does not redo completed steps.
struct Append: JobHandler {
    static let name = "append"

    struct Payload: Decodable {
        let path: String
        let text: String
        let steps: Int?
        let ms: Int?
    }

    func run(_ context: JobContext) async throws {
        let payload = try context.decode(Payload.self)
        let steps = payload.steps ?? 1
        guard steps >= 0 else { throw PermanentFailure("steps is \(steps): pass 0 or more") }
        for index in stride(from: 1, through: steps, by: 1) {
            try Task.checkCancellation()
            _ = try await context.step("line-\(index)") {
                if let ms = payload.ms, ms > 0 { try await Task.sleep(for: .milliseconds(ms)) }
                try Self.append("\(payload.text):\(index)\n", to: payload.path)
                return index
            }
        }
    }

    static func append(_ line: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PermanentFailure("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(line.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw AppendError(path: path, reason: String(cString: strerror(errno))) }
        guard fsync(fd) == 0 else { throw AppendError(path: path, reason: String(cString: strerror(errno))) }
    }

    struct AppendError: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "cannot append to \(path): \(reason)" }
    }
}
