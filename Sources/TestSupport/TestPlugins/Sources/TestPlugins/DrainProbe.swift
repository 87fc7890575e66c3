import Foundation
import WorkerPlugin

/// `drain_probe {"path": P}`: writes `running` to P, waits for the worker to drain, then writes what it sees as
/// `draining DEADLINE_US SEEN_US` (the drain deadline it was given and when it saw the drain, Unix microseconds),
/// keeps running until it is cancelled and appends `cancelled AT_US`: what a test needs to prove that handlers
/// see the drain, and see the deadline at which they are really cancelled.
struct DrainProbe: JobHandler {
    static let name = "drain_probe"

    struct Payload: Decodable { let path: String }

    func run(_ context: JobContext) async throws {
        let path = try context.decode(Payload.self).path
        try Self.append("running\n", to: path)
        while !context.isDraining {
            try await Task.sleep(for: .milliseconds(1))
        }
        let deadline = context.drainDeadline.map { Int64(($0.timeIntervalSince1970 * 1_000_000).rounded()) } ?? 0
        try Self.append("draining \(deadline) \(Self.now())\n", to: path)
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(1))
        }
        try Self.append("cancelled \(Self.now())\n", to: path)
        throw CancellationError()
    }

    static func now() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
    }

    static func append(_ line: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? file.close() }
        try file.seekToEnd()
        try file.write(contentsOf: Data(line.utf8))
    }
}
