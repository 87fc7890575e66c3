/// A worker process as it registers itself in the journal.
public struct WorkerRegistration: Sendable, Equatable {
    /// Unique per process start.
    public var id: String
    public var pid: Int32
    public var host: String
    /// The kernel's start time of `pid` (clock ticks since boot on Linux), to tell a reused pid apart.
    public var processStartedAt: Int64?
    public var version: String
    /// The handlers its plugins provide, recorded in `served_handlers`.
    public var handlers: [String]

    /// A registration.
    public init(id: String, pid: Int32, host: String, processStartedAt: Int64?, version: String, handlers: [String] = []) {
        self.id = id
        self.pid = pid
        self.host = host
        self.processStartedAt = processStartedAt
        self.version = version
        self.handlers = handlers
    }
}

/// A row of the worker registry.
public struct WorkerRecord: Sendable, Equatable {
    public var registration: WorkerRegistration
    public var startedAt: Micros
    public var heartbeatAt: Micros
    /// Nil while the worker is live.
    public var stoppedAt: Micros?
    public var stopReason: String?

    /// A record.
    public init(registration: WorkerRegistration, startedAt: Micros, heartbeatAt: Micros, stoppedAt: Micros?, stopReason: String?) {
        self.registration = registration
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.stoppedAt = stoppedAt
        self.stopReason = stopReason
    }
}
