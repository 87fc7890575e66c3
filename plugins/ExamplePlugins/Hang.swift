import Foundation
import WorkerPlugin

/// `hang {"ms": N}`: blocks its thread for N ms and ignores cancellation, as a badly written handler would.
struct Hang: JobHandler {
    static let name = "hang"

    struct Payload: Decodable { let ms: Int }

    func run(_ context: JobContext) async throws {
        let ms = try context.decode(Payload.self).ms
        var remaining = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
        // nanosleep, restarted after signals: nothing short of process exit ends it early.
        var request = remaining
        while nanosleep(&request, &remaining) != 0 && errno == EINTR {
            request = remaining
        }
    }
}
