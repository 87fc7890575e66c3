import Foundation
import Synchronization
import Testing
import WorkerPluginABI

@testable import WorkerPlugin

/// What the fake host's services saw, by job handle (each test uses handles of its own).
private let calls = Mutex<[Int: [String]]>([:])

private func record(_ handle: OpaquePointer?, _ call: String) {
    let key = Int(bitPattern: handle.map { UnsafeRawPointer($0) })
    calls.withLock { $0[key, default: []].append(call) }
}

private func text(_ pointer: UnsafePointer<CChar>?, _ length: Int) -> String {
    String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
}

/// The handle whose step_fail reports a journal failure.
private let refusingHandle = 2

/// A host's services table that records calls: every step must run (step_begin says 0).
private func fakeServices(size: Int) -> UnsafePointer<wp_host_services> {
    let table = UnsafeMutablePointer<wp_host_services>.allocate(capacity: 1)
    table.initialize(to: wp_host_services(
        size: UInt32(size),
        abi_minor: size >= MemoryLayout<wp_host_services>.size ? 1 : 0,
        checkpoint: { handle, _, _ in record(handle, "checkpoint"); return WP_OK },
        step_begin: { handle, name, length, _, _ in record(handle, "begin \(text(name, length))"); return 0 },
        step_commit: { handle, name, length, _, _ in record(handle, "commit \(text(name, length))"); return WP_OK },
        log: { _, _, _, _ in },
        drain_state: { _, _ in 0 },
        step_fail: { handle, name, nameLength, error, errorLength in
            record(handle, "fail \(text(name, nameLength)): \(text(error, errorLength))")
            return Int(bitPattern: handle.map { UnsafeRawPointer($0) }) == refusingHandle ? WP_ERROR : WP_OK
        }))
    return UnsafePointer(table)  // lives as long as the test process, like a host's table
}

private struct Broken: Error, Equatable, CustomStringConvertible {
    let code: Int
    var description: String { "broken \(code)\nsecond line" }
}

private func context(_ services: UnsafePointer<wp_host_services>, handle: Int) -> JobContext {
    JobContext(id: 1, handler: "h", attempt: 1, payload: Data("{}".utf8), lastCheckpoint: nil,
               host: HostLink(services: services, handle: OpaquePointer(bitPattern: handle)!))
}

private func seen(_ handle: Int) -> [String] { calls.withLock { $0[handle] ?? [] } }

@Suite struct StepFailureSDKTests {
    static let minor0Size = MemoryLayout<wp_host_services>.offset(of: \.step_fail)!

    @Test func aThrowingStepJournalsItsErrorAndRethrowsTheSameError() async {
        let job = context(fakeServices(size: MemoryLayout<wp_host_services>.size), handle: 1)
        await #expect(throws: Broken(code: 7)) {
            try await job.step("charge") { () async throws -> Int in throw Broken(code: 7) }
        }
        #expect(seen(1) == ["begin charge", "fail charge: broken 7\nsecond line"])
    }

    @Test func aRefusedStepFailStillRethrowsTheStepsOwnError() async {
        let job = context(fakeServices(size: MemoryLayout<wp_host_services>.size), handle: refusingHandle)
        await #expect(throws: Broken(code: 8)) {
            try await job.step("charge") { () async throws -> Int in throw Broken(code: 8) }
        }
        #expect(seen(refusingHandle) == ["begin charge", "fail charge: broken 8\nsecond line"])
    }

    /// A host of ABI minor 0: its table ends before `step_fail`, which the SDK must then never read.
    @Test func onAHostOfMinorZeroAThrowingStepOnlyRethrows() async {
        let job = context(fakeServices(size: Self.minor0Size), handle: 3)
        await #expect(throws: Broken(code: 9)) {
            try await job.step("charge") { () async throws -> Int in throw Broken(code: 9) }
        }
        #expect(seen(3) == ["begin charge"])
    }

    @Test func aCancelledStepIsNotJournaledAsAFailure() async {
        let job = context(fakeServices(size: MemoryLayout<wp_host_services>.size), handle: 4)
        await #expect(throws: CancellationError.self) {
            try await job.step("charge") { () async throws -> Int in throw CancellationError() }
        }
        #expect(seen(4) == ["begin charge"])
    }

    @Test func aStepThatReturnsIsCommittedNotFailed() async throws {
        let job = context(fakeServices(size: MemoryLayout<wp_host_services>.size), handle: 5)
        #expect(try await job.step("charge") { 42 } == 42)
        #expect(seen(5) == ["begin charge", "commit charge"])
    }

    /// A plugin built with this SDK loads on a host of minor 0 (whose table lacks `step_fail`), and is refused by a
    /// table too small even for minor 0.
    @Test func createAcceptsATableOfMinorZeroAndRefusesAShorterOne() {
        let descriptor = PluginExport.descriptor(name: "step-failure-tests", version: "1", handlers: [])
            .assumingMemoryBound(to: wp_descriptor.self)
        var instance: UnsafeMutableRawPointer?
        var error = [CChar](repeating: 0, count: 256)
        #expect(descriptor.pointee.create(fakeServices(size: Self.minor0Size), &instance, &error, error.count) == WP_OK)
        #expect(instance != nil)
        let short = descriptor.pointee.create(fakeServices(size: Self.minor0Size - 8), &instance, &error, error.count)
        #expect(short == WP_ERROR)
        #expect(error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }.contains("host services table too small"))
    }
}
