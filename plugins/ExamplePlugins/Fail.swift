import WorkerPlugin

/// `fail {"times": N}`: throws on its first N attempts, then completes.
struct Fail: JobHandler {
    static let name = "fail"

    struct Payload: Decodable { let times: Int }
    struct Planned: Error, CustomStringConvertible {
        let attempt: Int
        let times: Int
        var description: String { "planned failure \(attempt) of \(times)" }
    }

    func run(_ context: JobContext) async throws {
        let times = try context.decode(Payload.self).times
        if context.attempt <= times { throw Planned(attempt: context.attempt, times: times) }
    }
}
