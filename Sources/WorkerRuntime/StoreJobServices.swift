import Foundation
import PluginHost
import WorkerStore

/// The plugin host's job services over the store: the checkpoints and steps of the jobs `worker` holds, each
/// durable before the plugin's call returns.
public struct StoreJobServices: JobServices {
    public let store: any JobStore
    /// The worker that must hold each job written to.
    public let worker: String

    /// Services for the jobs `worker` holds in `store`.
    public init(store: any JobStore, worker: String) {
        self.store = store
        self.worker = worker
    }

    public func checkpoint(job: Int64, data: Data) throws(JobServiceError) {
        try Self.refusal { try store.checkpointBlocking(job: job, worker: worker, data: data) }
    }

    public func beginStep(job: Int64, name: String) throws(JobServiceError) -> Data? {
        // A step completed without a result is answered with an empty one: completed is what counts.
        try Self.refusal { try store.beginStepBlocking(job: job, worker: worker, name: name).map { $0.result ?? Data() } }
    }

    public func commitStep(job: Int64, name: String, result: Data) throws(JobServiceError) {
        try Self.refusal { try store.commitStepBlocking(job: job, worker: worker, name: name, result: result) }
    }

    public func failStep(job: Int64, name: String, error: String) throws(JobServiceError) {
        try Self.refusal { try store.failStepBlocking(job: job, worker: worker, name: name, error: error) }
    }

    /// Runs a store write, its error mapped to what the plugin is told.
    private static func refusal<T>(_ write: () throws -> T) throws(JobServiceError) -> T {
        do {
            return try write()
        } catch let error as JournalError where error.code == .notHeld {
            throw .notHeld
        } catch {
            throw .failed("\(error)")
        }
    }
}

extension HostedJob {
    /// A claimed job, as the plugin host hands it to its plugin.
    public init(_ job: Job) {
        self.init(id: job.id, handler: job.handler, attempt: job.attempts, payload: job.payload, checkpoint: job.checkpoint)
    }
}

extension PluginStamp {
    /// What the store records of the plugin that runs a job.
    public init(_ identity: PluginIdentity) {
        self.init(name: identity.name, version: identity.version, sha256: identity.sha256)
    }
}
