import Foundation
import Logging
import Synchronization
import WorkerPluginABI

/// How a plugin's run of a job ended.
public enum PluginOutcome: Sendable, Equatable {
    case completed
    /// `permanent`: the plugin says no retry can help.
    case failed(message: String, permanent: Bool)
    /// The run stopped after a cancel request.
    case cancelled
    /// The plugin refused to start the job (status code).
    case refused(status: Int32)
}

/// One job handed to a plugin: owns the `wp_job` and every buffer the plugin may read until completion.
final class JobSession: @unchecked Sendable {  // buffers are written before start and only freed in deinit
    /// Where its checkpoints and steps are recorded.
    let services: any JobServices
    let jobID: Int64
    let handler: String
    /// The name of the plugin running it, for messages.
    let plugin: String
    /// What the plugin holds for this job: its completion context and job handle (see `SessionRegistry`).
    let token: UInt
    let logger: Logger
    let drain: DrainSignal
    /// Called once with the outcome, on the thread that reports it (in addition to waking `outcome()`).
    let onEnd: (@Sendable (PluginOutcome) -> Void)?
    let job: UnsafeMutablePointer<wp_job>
    private let storage: Mutex<[UnsafeSendableRawPointer]> = Mutex([])
    private let state = Mutex<(outcome: PluginOutcome?, waiter: CheckedContinuation<PluginOutcome, Never>?)>((nil, nil))

    init(job: HostedJob, plugin: String, services: any JobServices, logger: Logger, drain: DrainSignal,
         onEnd: (@Sendable (PluginOutcome) -> Void)? = nil) {
        self.onEnd = onEnd
        self.plugin = plugin
        self.token = SessionRegistry.shared.newToken()
        self.services = services
        self.jobID = job.id
        self.handler = job.handler
        self.logger = logger
        self.drain = drain
        self.job = UnsafeMutablePointer<wp_job>.allocate(capacity: 1)
        let handlerBytes = keep(Data(job.handler.utf8))
        let payloadBytes = keep(Data(job.payload.utf8))
        let checkpointBytes = job.checkpoint.map { keep($0) }
        self.job.initialize(to: wp_job(
            size: UInt32(MemoryLayout<wp_job>.size),
            attempt: UInt32(clamping: job.attempt),
            id: job.id,
            handler: UnsafeRawPointer(handlerBytes.baseAddress)?.assumingMemoryBound(to: CChar.self),
            handler_length: handlerBytes.count,
            payload: payloadBytes.baseAddress,
            payload_length: payloadBytes.count,
            checkpoint: checkpointBytes?.baseAddress,
            checkpoint_length: checkpointBytes?.count ?? 0,
            handle: OpaquePointer(bitPattern: token)))
    }

    deinit {
        job.deallocate()
        storage.withLock { buffers in buffers.forEach { $0.pointer?.deallocate() } }
    }

    /// Copies bytes into memory that lives as long as the session (handed to the plugin by pointer).
    func keep(_ data: Data) -> UnsafeBufferPointer<UInt8> {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(data.count, 1), alignment: 1)
        _ = data.copyBytes(to: buffer.bindMemory(to: UInt8.self))
        let owned = UnsafeSendableRawPointer(pointer: buffer.baseAddress)
        storage.withLock { $0.append(owned) }
        return UnsafeBufferPointer(start: buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), count: data.count)
    }

    /// Records the outcome (the first one wins) and wakes whoever waits for it.
    func finish(_ outcome: PluginOutcome) {
        let (first, waiter): (Bool, CheckedContinuation<PluginOutcome, Never>?) = state.withLock { state in
            guard state.outcome == nil else { return (false, nil) }
            state.outcome = outcome
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        guard first else { return }
        waiter?.resume(returning: outcome)
        onEnd?(outcome)
    }

    /// Waits for the outcome without blocking a thread.
    func outcome() async -> PluginOutcome {
        await withCheckedContinuation { continuation in
            let ready: PluginOutcome? = state.withLock { state in
                if let outcome = state.outcome { return outcome }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}

/// The plugin's completion callback: the context is the session's token (see `SessionRegistry`). Only the first
/// call for a job counts; another is ignored and logged.
let completionCallback: wp_completion = { context, outcome, message, length in
    let token = UInt(bitPattern: context)
    guard let session = SessionRegistry.shared.end(token, for: "completion (outcome \(outcome)) called again") else { return }
    let text = HostServices.text(message, length) ?? ""
    switch outcome {
    case WP_OUTCOME_COMPLETED: session.finish(.completed)
    case WP_OUTCOME_FAILED_PERMANENTLY: session.finish(.failed(message: text, permanent: true))
    case WP_OUTCOME_CANCELLED: session.finish(.cancelled)
    default: session.finish(.failed(message: text.isEmpty ? "failed (outcome \(outcome))" : text, permanent: false))
    }
}

/// A job running in a plugin.
public final class JobExecution: Sendable {
    private let session: JobSession
    private let plugin: LoadedPlugin
    /// The plugin's run handle (which a plugin may leave NULL), and whether it was freed: the lock keeps a cancel
    /// from using it while, or after, it is freed.
    private let run: Mutex<(handle: UnsafeSendableRawPointer, freed: Bool)>

    init(session: JobSession, plugin: LoadedPlugin, run: UnsafeMutableRawPointer?) {
        self.session = session
        self.plugin = plugin
        self.run = Mutex((UnsafeSendableRawPointer(pointer: run), false))
    }

    /// The plugin that runs it.
    public var pluginName: String { plugin.name }

    /// Asks the plugin to stop the job; `outcome()` still reports how it ended. Once the run handle is freed (the
    /// job ended and its outcome was taken) there is nothing to stop, and this does nothing.
    public func cancel() {
        run.withLock { run in
            guard !run.freed else { return }
            plugin.descriptor.pointee.cancel(plugin.instance, run.handle.pointer)
        }
    }

    /// How the run ended. Frees the plugin's run handle once it is known.
    public func outcome() async -> PluginOutcome {
        let outcome = await session.outcome()
        release()
        return outcome
    }

    /// Frees the plugin's run handle, after the job ended (when not using `outcome()`). Later calls do nothing.
    public func release() {
        run.withLock { run in
            guard !run.freed else { return }
            run.freed = true
            if let pointer = run.handle.pointer { plugin.descriptor.pointee.free_run(plugin.instance, pointer) }
        }
    }
}

/// A plugin's opaque run handle, only ever passed back to the plugin.
struct UnsafeSendableRawPointer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer?
}
