import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOEmbedded
import Testing
import WorkerTestKit
@testable import WorkerAdmin

/// An admin connection the server accepted but dropped before handing it on (its accept loop cancelled at the end
/// of a drain under a flood) is finished and closed, not a trap of NIO's ("Deinited NIOAsyncWriter without calling
/// finish()", which ended a drained worker with a crash).
@Suite struct AcceptedConnectionTests {
    @Test(.timeLimit(.minutes(1))) func anAcceptedConnectionDroppedUnhandledIsClosedNotATrap() async throws {
        let channel = NIOAsyncTestingChannel()
        let guarded = GuardedHTTP1Channel(
            inner: HTTP1Channel(responder: { _, _, _ in }), limits: .standard,
            table: ConnectionTable(capacity: 4))
        var accepted: AcceptedConnection? = try await channel.eventLoop.flatSubmit {
            guarded.setup(channel: channel, logger: Logger(label: "test"))
        }.get()
        #expect(accepted?.channel === channel)
        accepted = nil  // dropped without `handle`
        let closed = await eventually(timeout: .seconds(30)) { !channel.isActive }
        #expect(closed, "a connection dropped unhandled stays open")
    }
}
