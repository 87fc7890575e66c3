import Foundation
import WorkerPlugin

/// `crash {"how": "abort" | "segv"}`: brings the whole process down mid-job, as a buggy plugin would.
struct Crash: JobHandler {
    static let name = "crash"

    struct Payload: Decodable { let how: String? }

    func run(_ context: JobContext) async throws {
        switch try context.decode(Payload.self).how ?? "abort" {
        case "segv":
            signal(SIGSEGV, SIG_DFL)  // no handler may turn it into something gentler
            raise(SIGSEGV)
        case "abort":
            abort()
        case let other:
            throw PermanentFailure("how is '\(other)': use abort or segv")
        }
    }
}
