import Dispatch
import Foundation
import WorkerPluginABI

/// What a handler knows about its job, and the journal services it may use.
public struct JobContext: Sendable {
    /// The job's id.
    public let id: Int64
    /// The handler name it was enqueued with.
    public let handler: String
    /// 1 for the first attempt.
    public let attempt: Int
    /// The payload: JSON text.
    public let payload: Data
    /// The checkpoint an earlier attempt saved last, or nil.
    public let lastCheckpoint: Data?

    let host: HostLink

    /// Decodes the payload as JSON.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: payload)
        } catch {
            throw PermanentFailure("payload does not match \(T.self): \(error)")
        }
    }

    /// Decodes the last checkpoint as JSON, or nil when there is none.
    public func lastCheckpoint<T: Decodable>(as type: T.Type = T.self) throws -> T? {
        guard let lastCheckpoint else { return nil }
        return try JSONDecoder().decode(T.self, from: lastCheckpoint)
    }

    /// Saves a checkpoint, replacing the previous one. Durable when this returns; a resumed attempt receives it
    /// as `lastCheckpoint`.
    public func checkpoint(_ data: Data) async throws {
        let status = await host.call { host in
            data.withUnsafeBytes { bytes in
                host.services.pointee.checkpoint(host.handle, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
            }
        }
        guard status == WP_OK else { throw HostServiceError(status: status, operation: "checkpoint") }
    }

    /// Saves a JSON-encoded checkpoint.
    public func checkpoint<T: Encodable>(_ value: T) async throws {
        try await checkpoint(JSONEncoder().encode(value))
    }

    /// Runs the step `name` once per job: when an earlier attempt completed it, returns its journaled result
    /// without running `body` again. A step that was in flight when the worker died runs again. When `body`
    /// throws, the step's failure and `String(describing: error)` are journaled (the step runs again on the next
    /// attempt) and the same error is rethrown; a cancellation is rethrown without being journaled as a failure.
    public func step<T: Codable & Sendable>(_ name: String, _ body: () async throws -> T) async throws -> T {
        let begun: (Int32, Data?) = await host.call { host in
            var result: UnsafePointer<UInt8>?
            var length = 0
            let status = name.withCString { host.services.pointee.step_begin(host.handle, $0, name.utf8.count, &result, &length) }
            return (status, status == 1 ? Data(bytes: result!, count: length) : nil)
        }
        switch begun {
        case (1, let data?):
            return try JSONDecoder().decode(StepBox<T>.self, from: data).value
        case (0, _):
            let value: T
            do {
                value = try await body()
            } catch {
                // A cancelled step (a drain, an operator's cancel) did not fail: the job is stopped, not failed.
                if !(Task.isCancelled || error is CancellationError) { await recordFailure(of: name, error) }
                throw error
            }
            let encoded = try JSONEncoder().encode(StepBox(value: value))
            let status = await host.call { host in
                encoded.withUnsafeBytes { bytes in
                    name.withCString {
                        host.services.pointee.step_commit(
                            host.handle, $0, name.utf8.count, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
                    }
                }
            }
            guard status == WP_OK else { throw HostServiceError(status: status, operation: "step '\(name)'") }
            return value
        case (let status, _):
            throw HostServiceError(status: status, operation: "step '\(name)'")
        }
    }

    /// Journals that this attempt's run of step `name` threw `error`, when the host offers `step_fail` (a host of
    /// ABI minor 0 does not). A refusal is not reported: the caller rethrows `error`, which says more.
    private func recordFailure(of name: String, _ error: any Error) async {
        guard host.offers(MemoryLayout<wp_host_services>.offset(of: \.step_fail)) else { return }
        let message = String(describing: error)
        _ = await host.call { host in
            name.withCString { step in
                message.withCString { text in
                    host.services.pointee.step_fail?(host.handle, step, name.utf8.count, text, message.utf8.count)
                }
            }
        }
    }

    /// Whether the worker has begun draining: finish or checkpoint soon.
    public var isDraining: Bool { drain().draining }

    /// When a drain began: the time at which unfinished jobs are cancelled.
    public var drainDeadline: Date? {
        let state = drain()
        return state.draining && state.deadline > 0 ? Date(timeIntervalSince1970: Double(state.deadline) / 1_000_000) : nil
    }

    /// Writes a line to the worker's log, tagged with this job.
    public func log(_ message: String, level: Int32 = WP_LOG_INFO) {
        message.withCString { host.services.pointee.log(host.handle, level, $0, message.utf8.count) }
    }

    private func drain() -> (draining: Bool, deadline: Int64) {
        var deadline: Int64 = 0
        let draining = host.services.pointee.drain_state(host.handle, &deadline) == 1
        return (draining, deadline)
    }
}

/// Step results are stored as `{"value": ...}` so that any Codable value, even a bare string, is valid JSON.
struct StepBox<T: Codable>: Codable {
    let value: T
}

/// The host's service table and this job's handle. Calls that may block (they wait for an fsync) run on a
/// Dispatch queue, never on a thread of Swift's cooperative pool.
struct HostLink: @unchecked Sendable {  // pointers owned by the host, valid until the job's completion
    let services: UnsafePointer<wp_host_services>
    let handle: OpaquePointer

    /// Whether the host's table has the field at `offset` (a table only grows at its end; see `size`).
    func offers(_ offset: Int?) -> Bool {
        guard let offset else { return false }
        return Int(services.pointee.size) >= offset + MemoryLayout<UnsafeRawPointer>.size
    }

    static let blockingCalls = DispatchQueue(label: "worker.plugin.host-calls", attributes: .concurrent)

    func call<T: Sendable>(_ body: @escaping @Sendable (HostLink) -> T) async -> T {
        await withCheckedContinuation { continuation in
            HostLink.blockingCalls.async { continuation.resume(returning: body(self)) }
        }
    }
}
