import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Hummingbird's HTTP/1 child channel with the admin endpoint's limits (`AdminLimits`) in front: each accepted
/// connection is admitted to the `ConnectionTable` (or closed at once), marked close-on-exec, and watched by a
/// `ConnectionDeadline`.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = AcceptedConnection

    let inner: HTTP1Channel
    let limits: AdminLimits
    let table: ConnectionTable

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let admitted = table.admit(channel)
        if admitted {
            channel.closeFuture.whenComplete { [table] _ in table.remove(channel) }
            // A refused connection is not marked: it is closed right below, and the scan costs a look at every
            // open descriptor (a child started in between would hold only that one connection, not the port).
            if let local = channel.localAddress?.port, let peer = channel.remoteAddress?.port {
                CloseOnExec.markSockets(localPort: local, peerPort: peer)
            }
        }
        let deadline = ConnectionDeadline(limits: limits, table: table, channel: channel)
        do {
            try channel.pipeline.syncOperations.addHandler(ConnectionDeadline.BytesSeen(deadline), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger).assumeIsolated().flatMapThrowing { value in
            // Behind the HTTP decoder (complete request heads) and before the handler that answers.
            let answering = try channel.pipeline.syncOperations.handler(type: HTTPConnectionStateHandler.self)
            try channel.pipeline.syncOperations.addHandler(ConnectionDeadline.RequestsSeen(deadline), position: .before(answering))
            if admitted {
                deadline.start()
            } else {
                channel.close(promise: nil)
            }
            return AcceptedConnection(value)
        }.nonisolated()
    }

    func handle(value: Value, logger: Logger) async {
        value.handled.store(true, ordering: .relaxed)
        await inner.handle(value: value.connection, logger: logger)
    }
}

/// An accepted connection on its way to `handle`. The server's accept loop may drop connections it accepted but
/// did not hand on yet (its task is cancelled when the worker's shutdown outlasts its grace, as under a flood):
/// NIO traps on an async channel whose writer was never finished (a crash at the end of a drain that had gone
/// well), so one dropped unhandled is finished and closed here.
final class AcceptedConnection: ServerChildChannelValue {
    let connection: HTTP1Channel.Value
    let handled = Atomic<Bool>(false)

    init(_ connection: HTTP1Channel.Value) {
        self.connection = connection
    }

    var channel: any Channel { connection.channel }

    deinit {
        guard !handled.load(ordering: .relaxed) else { return }
        let connection = connection
        Task { try? await connection.executeThenClose { _, _ in } }  // finishes its writer, closes the channel
    }
}

/// Closes a connection whose request headers take longer than `headerTimeout` (from their first byte, or from
/// the connection's opening) or that stays idle between requests longer than `idleTimeout`, and tells the
/// `ConnectionTable` whether a request is under way (such a connection is not evicted). Lives on the
/// connection's event loop; two handlers feed it: `BytesSeen` at the front of the pipeline (raw bytes: a
/// request began) and `RequestsSeen` behind the decoder (a request's head arrived, its response ended).
final class ConnectionDeadline {
    private enum Phase {
        case waiting  // no byte of a request yet: a new connection (header timeout) or between requests (idle)
        case readingHead
        case handling(requests: Int)
    }

    private let limits: AdminLimits
    private let table: ConnectionTable
    private let channel: any Channel
    private var phase = Phase.waiting
    /// Whether the connection has answered a request (its `waiting` is keep-alive idleness, not a new one).
    private var answered = false
    private var deadline: NIODeadline
    private var timer: (task: Scheduled<Void>, at: NIODeadline)?

    init(limits: AdminLimits, table: ConnectionTable, channel: any Channel) {
        self.limits = limits
        self.table = table
        self.channel = channel
        deadline = .now() + Self.amount(limits.headerTimeout)  // a new connection owes its first request's headers
    }

    /// Arms the timer (an admitted connection).
    func start() {
        schedule()
    }

    fileprivate func bytesArrived() {
        guard case .waiting = phase else { return }
        phase = .readingHead
        // Between requests the headers' time starts with their first byte; a new connection's ran from its opening.
        if answered { move(to: .now() + Self.amount(limits.headerTimeout)) }
    }

    fileprivate func requestHeadArrived() {
        switch phase {
        case .handling(let requests): phase = .handling(requests: requests + 1)
        case .waiting, .readingHead: phase = .handling(requests: 1)
        }
        move(to: .now() + Self.amount(limits.idleTimeout))  // the answer and any body get the idle time
        table.setBusy(channel, true)
    }

    fileprivate func responseEnded() {
        guard case .handling(let requests) = phase else { return }
        if requests > 1 {
            phase = .handling(requests: requests - 1)
            return
        }
        phase = .waiting
        answered = true
        move(to: .now() + Self.amount(limits.idleTimeout))
        table.setBusy(channel, false)
    }

    /// Sets the deadline; a timer set for later is set anew (a later deadline waits for the timer to fire).
    private func move(to new: NIODeadline) {
        deadline = new
        if let timer, new < timer.at {
            timer.task.cancel()
            schedule()
        }
    }

    private func schedule() {
        let task = channel.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            if NIODeadline.now() >= deadline {
                channel.close(promise: nil)
            } else {
                schedule()
            }
        }
        timer = (task, deadline)
    }

    fileprivate func stop() {
        timer?.task.cancel()
        timer = nil
    }

    private static func amount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(Int64(duration / .nanoseconds(1)))
    }

    /// Sees raw bytes: a request began.
    final class BytesSeen: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        private let deadline: ConnectionDeadline

        init(_ deadline: ConnectionDeadline) {
            self.deadline = deadline
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            deadline.bytesArrived()
            context.fireChannelRead(data)
        }

        func channelInactive(context: ChannelHandlerContext) {
            deadline.stop()
            context.fireChannelInactive()
        }
    }

    /// Sees decoded requests and responses: a head arrived, a response ended.
    final class RequestsSeen: ChannelDuplexHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPRequestPart
        typealias InboundOut = HTTPRequestPart
        typealias OutboundIn = HTTPResponsePart
        typealias OutboundOut = HTTPResponsePart
        private let deadline: ConnectionDeadline

        init(_ deadline: ConnectionDeadline) {
            self.deadline = deadline
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head = unwrapInboundIn(data) { deadline.requestHeadArrived() }
            context.fireChannelRead(data)
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if case .end = unwrapOutboundIn(data) { deadline.responseEnded() }
            context.write(data, promise: promise)
        }
    }
}
