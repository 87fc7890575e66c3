import WorkerPlugin

/// `noop`: completes at once, whatever the payload.
struct Noop: JobHandler {
    static let name = "noop"
    func run(_ context: JobContext) async throws {}
}
