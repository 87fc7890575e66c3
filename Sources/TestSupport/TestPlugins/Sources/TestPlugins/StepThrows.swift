import Foundation
import WorkerPlugin

/// `step_throws {"path": P}`: runs the journaled step `charge`, which appends `charge ran` to P and then, while the
/// file `P.fail` exists, throws an error whose description has a newline and an escape sequence: what a test needs
/// to see the SDK journal a throwing step's error, and the next run of the job run the step again.
struct StepThrows: JobHandler {
    static let name = "step_throws"

    struct Payload: Decodable { let path: String }

    struct Declined: Error, CustomStringConvertible {
        var description: String { "card declined\n\u{1B}[2Jforged line" }
    }

    func run(_ context: JobContext) async throws {
        let path = try context.decode(Payload.self).path
        _ = try await context.step("charge") {
            try DrainProbe.append("charge ran\n", to: path)
            if FileManager.default.fileExists(atPath: path + ".fail") { throw Declined() }
            return 1
        }
    }
}
