import Dispatch
import Foundation
import Synchronization
import WorkerPluginABI
import WorkerToolchain

/// Builds the C descriptor of a Swift plugin. A plugin's whole export is one line:
///
/// ```swift
/// @_cdecl("worker_plugin_entry_v1") public func entry() -> UnsafeRawPointer {
///     PluginExport.descriptor(name: "my-plugin", version: "1.0.0", handlers: [Resize.self, Notify.self]) }
/// ```
public enum PluginExport {
    /// The plugin's descriptor, built on the first call and kept for the life of the process.
    public static func descriptor(name: String, version: String, handlers: [any JobHandler.Type]) -> UnsafeRawPointer {
        built.withLock { built in
            if let built { return UnsafeRawPointer(built) }
            let descriptor = makeDescriptor(name: name, version: version, handlers: handlers)
            built = descriptor
            return UnsafeRawPointer(descriptor)
        }
    }

    // The descriptor and its strings are allocated once and never freed: the host never unloads a plugin.
    private static let built = Mutex<UnsafeMutablePointer<wp_descriptor>?>(nil)
    static let registry = Mutex<[String: any JobHandler.Type]>([:])

    private static func makeDescriptor(name: String, version: String, handlers: [any JobHandler.Type]) -> UnsafeMutablePointer<wp_descriptor> {
        registry.withLock { registry in
            for handler in handlers { registry[handler.name] = handler }
        }
        let names = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: max(handlers.count, 1))
        for (index, handler) in handlers.enumerated() {
            names[index] = UnsafePointer(strdup(handler.name))
        }
        let descriptor = UnsafeMutablePointer<wp_descriptor>.allocate(capacity: 1)
        descriptor.initialize(to: wp_descriptor(
            magic: WP_MAGIC,
            size: UInt32(MemoryLayout<wp_descriptor>.size),
            abi_major: WP_ABI_MAJOR,
            abi_minor: WP_ABI_MINOR,
            toolchain: UnsafePointer(strdup(Toolchain.fingerprint)),
            name: UnsafePointer(strdup(name)),
            version: UnsafePointer(strdup(version)),
            handler_count: UInt32(handlers.count),
            handlers: UnsafePointer(names),
            create: createInstance,
            start: startJob,
            cancel: cancelJob,
            free_run: freeRun))
        return descriptor
    }
}

/// One plugin instance: the host's services, kept for the instance's life.
final class PluginInstance: @unchecked Sendable {  // immutable after init; the pointer is the host's, process-long
    let services: UnsafePointer<wp_host_services>

    init(services: UnsafePointer<wp_host_services>) {
        self.services = services
    }
}

/// One started job: the task running its handler.
final class JobRun: @unchecked Sendable {  // `task` is set once, before the run handle is handed to the host
    var task: Task<Void, Never>?
}

private let createInstance: @convention(c) (
    UnsafePointer<wp_host_services>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<CChar>?, Int
) -> Int32 = { services, instance, error, capacity in
    guard let services, let instance else { return WP_INVALID }
    // A host of ABI minor 0 has every field before `step_fail`; the SDK does without the newer ones it lacks.
    let needed = MemoryLayout<wp_host_services>.offset(of: \.step_fail) ?? MemoryLayout<wp_host_services>.size
    guard services.pointee.size >= UInt32(needed) else {
        if let error, capacity > 0 {
            let message = "host services table too small (\(services.pointee.size) bytes, need \(needed))"
            _ = message.withCString { strncpy(error, $0, capacity - 1) }
            error[capacity - 1] = 0
        }
        return WP_ERROR
    }
    instance.pointee = Unmanaged.passRetained(PluginInstance(services: services)).toOpaque()
    return WP_OK
}

private let startJob: @convention(c) (
    UnsafeMutableRawPointer?, UnsafePointer<wp_job>?, wp_completion?, UnsafeMutableRawPointer?,
    UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> Int32 = { instancePointer, jobPointer, completion, completionContext, runOut in
    guard let instancePointer, let job = jobPointer?.pointee, let completion, let runOut, let handle = job.handle else {
        return WP_INVALID
    }
    let instance = Unmanaged<PluginInstance>.fromOpaque(instancePointer).takeUnretainedValue()
    let name = String(decoding: UnsafeBufferPointer(start: UnsafeRawPointer(job.handler)?.assumingMemoryBound(to: UInt8.self),
                                                    count: job.handler_length), as: UTF8.self)
    guard let handlerType = PluginExport.registry.withLock({ $0[name] }) else { return WP_INVALID }
    let context = JobContext(
        id: job.id, handler: name, attempt: Int(job.attempt),
        payload: job.payload.map { Data(bytes: $0, count: job.payload_length) } ?? Data(),
        lastCheckpoint: job.checkpoint.map { Data(bytes: $0, count: job.checkpoint_length) },
        host: HostLink(services: instance.services, handle: handle))
    let run = JobRun()
    let callback = Completion(function: completion, context: completionContext)
    // Each job runs on a lane (a thread) of its own, not on Swift's shared cooperative pool: a handler that blocks
    // its thread (it should not, but some do) then blocks only itself, never the worker's own machinery.
    let lane = LanePool.shared.acquire()
    run.task = Task(executorPreference: lane) {
        let (outcome, message) = await JobRunner.run(handlerType, context)
        LanePool.shared.release(lane)  // before reporting, so the job the host starts next can have this lane
        callback.call(outcome, message)
    }
    runOut.pointee = Unmanaged.passRetained(run).toOpaque()
    return WP_OK
}

private let cancelJob: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, run in
    guard let run else { return }
    Unmanaged<JobRun>.fromOpaque(run).takeUnretainedValue().task?.cancel()
}

private let freeRun: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = { _, run in
    guard let run else { return }
    Unmanaged<JobRun>.fromOpaque(run).release()
}

/// The host's completion callback and its context, carried to the job's task.
struct Completion: @unchecked Sendable {  // the host guarantees the context stays valid until it is called
    let function: wp_completion
    let context: UnsafeMutableRawPointer?

    func call(_ outcome: Int32, _ message: String) {
        message.withCString { function(context, outcome, $0, message.utf8.count) }
    }
}

/// Runs a handler and turns how it ended into an ABI outcome and message.
enum JobRunner {
    static func run(_ type: any JobHandler.Type, _ context: JobContext) async -> (Int32, String) {
        do {
            try await type.init().run(context)
            return (WP_OUTCOME_COMPLETED, "")
        } catch let failure as PermanentFailure {
            return (WP_OUTCOME_FAILED_PERMANENTLY, failure.message)
        } catch {
            if Task.isCancelled || error is CancellationError {
                return (WP_OUTCOME_CANCELLED, "cancelled")
            }
            return (WP_OUTCOME_FAILED, "\(error)")
        }
    }
}
