import WorkerPlugin

/// `sleep {"ms": N}`: sleeps N ms in slices of at most 100 ms, checkpointing the elapsed time after each, so a
/// resumed job sleeps only what is left. Cancellable between slices. How it meets a drain: it needs no look at
/// `context.isDraining` because each slice is short and checkpointed; a handler whose units of work are long
/// compares the next one with `context.drainDeadline` before starting it (docs/plugins.md, "Draining").
struct Sleep: JobHandler {
    static let name = "sleep"
    static let slice = 100

    struct Payload: Decodable { let ms: Int }
    struct Progress: Codable { let elapsedMs: Int }

    func run(_ context: JobContext) async throws {
        let total = try context.decode(Payload.self).ms
        var elapsed = (try? context.lastCheckpoint(as: Progress.self))?.elapsedMs ?? 0
        while elapsed < total {
            try Task.checkCancellation()
            let step = min(Self.slice, total - elapsed)
            try await Task.sleep(for: .milliseconds(step))
            elapsed += step
            try await context.checkpoint(Progress(elapsedMs: elapsed))
        }
    }
}
