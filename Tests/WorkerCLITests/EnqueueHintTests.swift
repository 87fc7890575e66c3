import Foundation
import Testing
import WorkerTestKit

/// What `worker enqueue` tells a user who may have made a mistake (issue 12, items 6 and 7): a handler no worker
/// has served, a unique key already held. Both still answer as the contract says.
@Suite struct EnqueueHintTests {
    @Test(arguments: StoreKind.allCases)
    func aHandlerNoWorkerHasServedIsEnqueuedWithAWarning(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        // A new journal: nothing to compare with, no warning.
        let first = try await cli.worker(["enqueue", "noop"])
        #expect(first.status == 0 && first.stderr.isEmpty, "\(first.stderr)")
        let run = try await cli.worker(["run", "--plugin", PluginFixtures.examples, "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        let typo = try await cli.worker(["enqueue", "noopp"])
        #expect(typo.status == 0 && Int64(typo.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) != nil, "\(typo.stdout)")
        #expect(typo.stderrLines == [
            "worker: warning: no worker has served handler 'noopp' on this journal: the job waits until a worker whose plugins provide it runs (a typo? `worker status` lists the workers)",
        ], "\(typo.stderr)")
        let served = try await cli.worker(["enqueue", "sleep", "--payload", #"{"ms": 1}"#])
        #expect(served.status == 0 && served.stderr.isEmpty, "\(served.stderr)")
        let bulk = try await cli.worker(["enqueue", "noopp", "--payloads-from", "-"], stdin: "{}\n{}\n")
        #expect(bulk.status == 0 && bulk.stderr.contains("no worker has served handler 'noopp'"), "\(bulk.stderr)")
        let json = try await cli.worker(["enqueue", "noopp", "--json"])
        #expect(json.status == 0 && (try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) != nil, "\(json.stdout)")
        #expect(json.stderr.contains("worker: warning: "), "\(json.stderr)")
    }

    @Test(arguments: StoreKind.allCases)
    func aHeldKeyIsSaidAndUsesUpNoJobID(store: StoreKind) async throws {
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        #expect(try await cli.ok(["enqueue", "noop", "--key", "nightly"]) == "1")
        for _ in 0..<3 {
            let again = try await cli.worker(["enqueue", "noop", "--key", "nightly"])
            #expect(again.status == 0 && again.stdout == "1\n", "\(again.stdout)")
            #expect(again.stderrLines == ["worker: note: key 'nightly' is held by unfinished job 1 (queued): nothing was enqueued"], "\(again.stderr)")
        }
        #expect(try await cli.ok(["enqueue", "noop"]) == "2")  // no id was used up by the duplicates
        let json = try await cli.worker(["enqueue", "noop", "--key", "nightly", "--json"])
        #expect(json.stderr.isEmpty, "JSON says it: created is false")
        #expect((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["created"] as? Bool == false)
    }
}
