@testable import PostgresJournal
import PostgresNIO
import Testing
import WorkerStore

/// A round's statement is prepared once per connection under one text: whatever a round varies must be a
/// parameter, never part of the text (else rounds fall back to a statement parsed and planned every time).
@Suite struct RoundStatementTests {
    @Test func everyRoundHasThePreparedText() {
        var outcomes = RoundOutcomes()
        outcomes.ids = [1, 2]
        outcomes.tokens = [10, -1]
        outcomes.states = ["completed", "retrying"]
        outcomes.attempts = [1, 2]
        outcomes.delays = [0, 1_000_000]
        outcomes.clear = [true, false]
        outcomes.set = [false, true]
        outcomes.errors = ["", "boom"]
        outcomes.reasons = ["completed", "failed"]
        var busy = ClaimRequest(
            worker: "w", limit: 0, queues: ["a", "b"], handlers: ["noop"], plugins: ["noop": PluginStamp(name: "p", version: "1", sha256: "x")],
            ids: [4, 5], isolateSuspects: true, busy: true)
        busy.ahead = 7
        busy.aheadHandlers = ["noop"]
        busy.suspectCrashes = 2
        let requests = [ClaimRequest(worker: "w", limit: 0), ClaimRequest(worker: "other", limit: 10), busy]
        for request in requests {
            for batch in [RoundOutcomes(), outcomes] {
                let query = RoundStatement.query(worker: request.worker, pid: 7, outcomes: batch, request: request)
                #expect(query.sql == RoundStatement.sql)
                #expect(query.binds.count > 20)
            }
        }
    }
}
