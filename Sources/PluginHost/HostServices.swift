import Foundation
import Logging
import WorkerPluginABI

/// The service table handed to every plugin: process-wide, never freed. Each call finds its job through the
/// `wp_job_handle`, which is the job's token in `SessionRegistry`.
enum HostServices {
    // Written once here, then only read, by the host and every plugin.
    nonisolated(unsafe) static let table: UnsafePointer<wp_host_services> = {
        let table = UnsafeMutablePointer<wp_host_services>.allocate(capacity: 1)
        table.initialize(to: wp_host_services(
            size: UInt32(MemoryLayout<wp_host_services>.size),
            abi_minor: UInt32(WP_ABI_MINOR),
            checkpoint: checkpoint,
            step_begin: stepBegin,
            step_commit: stepCommit,
            log: log,
            drain_state: drainState,
            step_fail: stepFail))
        return UnsafePointer(table)
    }()

    /// The live job of `handle`; nil (and logged) when the job ended: the caller then returns `WP_NOT_HELD`.
    static func session(_ handle: OpaquePointer?, _ service: String) -> JobSession? {
        guard let handle else { return nil }
        return SessionRegistry.shared.session(UInt(bitPattern: Int(bitPattern: handle)), for: "\(service) called")
    }

    /// Maps a refused job service to an ABI status, logging what the plugin cannot see.
    static func status(of error: any Error, _ session: JobSession, _ operation: String) -> Int32 {
        if error as? JobServiceError == .notHeld { return WP_NOT_HELD }
        session.logger.error("\(operation) failed: \(error)", metadata: ["job": "\(session.jobID)"])
        return WP_ERROR
    }

    static func text(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String? {
        guard let pointer else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }
}

private let checkpoint: @convention(c) (OpaquePointer?, UnsafePointer<UInt8>?, Int) -> Int32 = { handle, data, length in
    guard handle != nil, data != nil || length == 0 else { return WP_INVALID }
    guard let session = HostServices.session(handle, "checkpoint") else { return WP_NOT_HELD }
    do {
        let bytes = data.map { Data(bytes: $0, count: length) } ?? Data()
        try session.services.checkpoint(job: session.jobID, data: bytes)
        return WP_OK
    } catch {
        return HostServices.status(of: error, session, "checkpoint")
    }
}

private let stepBegin: @convention(c) (
    OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutablePointer<UnsafePointer<UInt8>?>?, UnsafeMutablePointer<Int>?
) -> Int32 = { handle, name, nameLength, result, resultLength in
    guard handle != nil, let step = HostServices.text(name, nameLength), !step.isEmpty, let result, let resultLength else {
        return WP_INVALID
    }
    guard let session = HostServices.session(handle, "step_begin") else { return WP_NOT_HELD }
    do {
        guard let done = try session.services.beginStep(job: session.jobID, name: step) else {
            return 0
        }
        let kept = session.keep(done)
        result.pointee = kept.baseAddress
        resultLength.pointee = kept.count
        return 1
    } catch {
        return HostServices.status(of: error, session, "step '\(step)'")
    }
}

private let stepCommit: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafePointer<UInt8>?, Int) -> Int32 = {
    handle, name, nameLength, data, length in
    guard handle != nil, let step = HostServices.text(name, nameLength), !step.isEmpty, data != nil || length == 0 else {
        return WP_INVALID
    }
    guard let session = HostServices.session(handle, "step_commit") else { return WP_NOT_HELD }
    do {
        let bytes = data.map { Data(bytes: $0, count: length) } ?? Data()
        try session.services.commitStep(job: session.jobID, name: step, result: bytes)
        return WP_OK
    } catch {
        return HostServices.status(of: error, session, "step '\(step)'")
    }
}

private let stepFail: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafePointer<CChar>?, Int) -> Int32 = {
    handle, name, nameLength, error, errorLength in
    guard handle != nil, let step = HostServices.text(name, nameLength), !step.isEmpty, error != nil || errorLength == 0 else {
        return WP_INVALID
    }
    guard let session = HostServices.session(handle, "step_fail") else { return WP_NOT_HELD }
    do {
        let message = HostServices.text(error, errorLength) ?? ""
        try session.services.failStep(job: session.jobID, name: step, error: message)
        return WP_OK
    } catch {
        return HostServices.status(of: error, session, "step '\(step)'")
    }
}

private let log: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, Int) -> Void = { handle, level, message, length in
    guard let session = HostServices.session(handle, "log"), let text = HostServices.text(message, length) else { return }
    let mapped: Logger.Level = switch level {
    case WP_LOG_DEBUG: .debug
    case WP_LOG_WARNING: .warning
    case WP_LOG_ERROR: .error
    default: .info
    }
    session.logger.log(level: mapped, "\(text)", metadata: ["job": "\(session.jobID)", "handler": "\(session.handler)"])
}

private let drainState: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int64>?) -> Int32 = { handle, deadline in
    guard handle != nil else { return WP_INVALID }
    guard let session = HostServices.session(handle, "drain_state") else { return WP_NOT_HELD }
    let state = session.drain.state
    deadline?.pointee = state.deadlineMicros
    return state.draining ? 1 : 0
}
