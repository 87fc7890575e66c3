import Foundation
import Testing
import WorkerTestKit

/// Three workers on three "hosts" (network namespaces of a `NetworkLab`), one PostgreSQL server on the bridge: the
/// contract's promises across hosts. Judged by the journal (every job finished once, consistent histories), never
/// by timings; the delays the issue names are measured and printed.
@Suite(.serialized) struct MultiHostTests {
    @Test(.enabled("needs root and iproute2 (ip netns)", NetworkLab.isAvailable))
    func mixedWorkOnThreeHostsFinishesEveryJobOnce() async throws {
        try await MultiHost.with { setup in
            try await setup.enqueue("noop", Array(repeating: "{}", count: 300))
            try await setup.enqueue("sleep", Array(repeating: #"{"ms": 150}"#, count: 30))
            try await setup.enqueue("fail", Array(repeating: #"{"times": 1}"#, count: 20))
            // A worker that loses its lock session (a process starved for seconds on a loaded test machine looks
            // like one cut off) exits 75, and its supervisor starts it again: so does this test, on the same host.
            let restarts = try await withThrowingTaskGroup(of: Int.self) { group in
                for host in 0..<3 {
                    group.addTask {
                        var restarts = 0
                        while true {
                            let worker = try await setup.startWorker(host: host, ["--exit-when-idle"])
                            let exit = await worker.waitForExit(timeout: .seconds(180))
                            if exit?.status == 75 && restarts < 5 {
                                restarts += 1
                                continue
                            }
                            #expect(exit?.status == 0, "a worker exited \(String(describing: exit)): \(worker.log.suffix(600))")
                            return restarts
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            if restarts > 0 { print("multi-host mixed work: \(restarts) worker restart(s) after a lost lock session") }
            #expect(try await setup.sql("SELECT count(*) FROM jobs WHERE state = 'completed'") == "350")
            // The failing jobs ran twice: the first attempt failed into retrying, the second completed (a worker
            // that lost its session under one adds an attempt).
            let twice = try await setup.sql("SELECT count(*) FROM jobs WHERE handler = 'fail' AND attempts \(restarts == 0 ? "=" : ">=") 2")
            #expect(twice == "20")
            // Every worker took a share: the work was spread across the hosts.
            let hosts = try await setup.sql("SELECT count(DISTINCT worker_id) FROM job_events WHERE to_state = 'running'")
            #expect(Int(hosts) ?? 0 >= 2, "only \(hosts) worker(s) ran jobs")
            try await setup.expectSound()
        }
    }

    @Test(.enabled("needs root and iproute2 (ip netns)", NetworkLab.isAvailable))
    func aKilledWorkersJobsAreResumedByAPeer() async throws {
        try await MultiHost.with { setup in
            // Whoever the victim is, its peers have at least as many free slots as it holds jobs: they can resume at
            // once, not when a slot frees.
            let workers = try await (0..<3).asyncMap { try await setup.startWorker(host: $0, ["--concurrency", "4"]) }
            for worker in workers { #expect(await worker.waitForLog("ready"), "\(worker.log)") }
            // 20 s jobs: a resumed one sleeps only what is left, so the length costs little, and it leaves the look
            // below and the kill time on a loaded machine (with 10 s jobs a CI run once saw the victim finish them all
            // before the kill: one worker had claimed its share seconds after the others).
            let ids = try await setup.enqueue("sleep", Array(repeating: #"{"ms": 20000}"#, count: 6))
            // Wait until every job runs, then kill the worker that holds the one that started last (the most left
            // to do), found in one look with the server's clock.
            let allRunning = await eventually(timeout: .seconds(60)) {
                (try? await setup.sql("SELECT count(*) FROM jobs WHERE state = 'running'")) == "\(ids.count)"
            }
            guard allRunning else {
                Issue.record("the jobs did not all start: \(try await setup.dump())")
                return
            }
            let look = try await setup.sql("""
                SELECT w.pid || ' ' || j.worker_id || ' ' || worker_micros() FROM jobs j JOIN workers w ON w.id = j.worker_id
                WHERE j.state = 'running'
                ORDER BY (SELECT max(e.at) FROM job_events e WHERE e.job_id = j.id AND e.to_state = 'running') DESC LIMIT 1
                """).split(separator: " ").map(String.init)
            guard look.count == 3 else {
                Issue.record("no running job to pick a victim by: \(try await setup.dump())")
                return
            }
            let (victimPID, victimID) = (look[0], look[1])
            let killedAt = try #require(Int64(look[2]))
            let victim = try #require(workers.first { "\($0.pid)" == victimPID }, "no worker of ours has pid \(victimPID)")
            victim.killGroup()
            _ = await victim.waitForExit(timeout: .seconds(10))
            // What the victim held when it died, from the events (read after the kill: on a loaded machine it may
            // have finished a job between the look above and the kill, and a peer may have taken one back already):
            // every job it started and did not finish.
            let held = try await setup.sql("""
                SELECT coalesce(string_agg(DISTINCT job_id::text, ','), '') FROM job_events s
                WHERE s.to_state = 'running' AND s.worker_id = '\(victimID)'
                  AND NOT EXISTS (SELECT 1 FROM job_events f WHERE f.job_id = s.job_id AND f.from_state = 'running'
                                  AND f.worker_id = '\(victimID)')
                """)
            guard !held.isEmpty else {
                Issue.record("the victim held no running job when it was killed: \(try await setup.dump())")
                return
            }

            let resumed = await eventually(timeout: .seconds(60)) {
                (try? await setup.sql("""
                    SELECT count(*) FROM jobs WHERE id IN (\(held)) AND (state = 'completed' OR (state = 'running' AND worker_id <> '\(victimID)'))
                    """)) == "\(held.split(separator: ",").count)"
            }
            if !resumed { Issue.record("the killed worker's jobs \(held) were not resumed: \(try await setup.dump())") }
            let delays = try await setup.sql("""
                SELECT round(((min(at) FILTER (WHERE to_state = 'interrupted') - \(killedAt)) / 1000.0)::numeric, 1) || ' ms to interrupted, '
                    || round(((min(at) FILTER (WHERE to_state = 'running') - \(killedAt)) / 1000.0)::numeric, 1) || ' ms to running'
                FROM job_events WHERE job_id IN (\(held)) AND at >= \(killedAt)
                """)
            print("multi-host: SIGKILLed worker's \(held.split(separator: ",").count) job(s) recovered by a peer: \(delays) (the issue asks ≤ 1 s)")
            // The rest of the work ends normally on the two live workers.
            let finished = await eventually(timeout: .seconds(90)) {
                (try? await setup.sql("SELECT count(*) FROM jobs WHERE state = 'completed'")) == "\(ids.count)"
            }
            if !finished { Issue.record("\(try await setup.dump())") }
            // Each job the victim held was interrupted once (by recovery, as a crash) and completed once.
            let interrupted = try await setup.sql("""
                SELECT count(DISTINCT job_id) FROM job_events WHERE job_id IN (\(held)) AND to_state = 'interrupted'
                """)
            #expect(interrupted == "\(held.split(separator: ",").count)")
            #expect(try await setup.sql("SELECT count(*) FROM jobs WHERE id IN (\(held)) AND crashes = 1") == "\(held.split(separator: ",").count)")
            for worker in workers where worker.isAlive { worker.signal(SIGTERM) }
            for worker in workers { _ = await worker.waitForExit(timeout: .seconds(30)) }
            try await setup.expectSound()
        }
    }

    /// A worker whose link is cut mid-job: the server frees its lock within the keepalive bound, a peer recovers the
    /// job and runs it; when the link returns, the cut-off worker's late completion is refused (its claim token is
    /// stale), so the job completes once.
    @Test(.enabled("needs root and iproute2 (ip netns)", NetworkLab.isAvailable))
    func aCutOffWorkersJobIsRecoveredAndItsLateCompletionRefused() async throws {
        try await MultiHost.with { setup in
            // Host 0 alone first, so that it takes the job; then two peers.
            let cutOff = try await setup.startWorker(host: 0, ["--concurrency", "1"])
            #expect(await cutOff.waitForLog("ready"), "\(cutOff.log)")
            // `hang` ignores cancellation: the cut-off worker finishes it, and has a completion to write. 20 s: it must
            // outlast the peers' starts and the cut on a loaded machine (6 s could end before the cut).
            let id = try await setup.enqueue("hang", [#"{"ms": 20000}"#])[0]
            let started = await eventually(timeout: .seconds(30)) { (try? await setup.sql("SELECT state FROM jobs WHERE id = \(id)")) == "running" }
            try #require(started, "\(cutOff.log)")
            let firstHolder = try await setup.sql("SELECT worker_id FROM jobs WHERE id = \(id)")
            let peers = try await (1..<3).asyncMap { try await setup.startWorker(host: $0, ["--concurrency", "1"]) }
            for peer in peers { #expect(await peer.waitForLog("ready"), "\(peer.log)") }

            let cutAt = try await setup.serverMicros()
            try await setup.lab.cut(host: 0)
            // Recovered by a peer within the documented bound (15 s); 15 s more of slack for a loaded machine.
            let recovered = await eventually(timeout: .seconds(30)) {
                (try? await setup.sql("SELECT count(*) FROM jobs WHERE id = \(id) AND worker_id <> '\(firstHolder)' AND state IN ('running', 'completed')")) == "1"
            }
            let delay = try await setup.sql("""
                SELECT round(((min(at) - \(cutAt)) / 1e6)::numeric, 1) FROM job_events WHERE job_id = \(id) AND to_state = 'interrupted' AND at >= \(cutAt)
                """)
            print("multi-host: a cut-off worker's job was recovered \(delay) s after the cut (documented bound 15 s)")
            if !recovered { Issue.record("the cut-off worker's job was not recovered: \(try await setup.dump())") }

            // Give the link back and let the cut-off worker's late write arrive (its hang ends now or has ended).
            try await setup.lab.restore(host: 0)
            let done = await eventually(timeout: .seconds(90)) { (try? await setup.sql("SELECT state FROM jobs WHERE id = \(id)")) == "completed" }
            if !done { Issue.record("\(try await setup.dump())") }
            // Whatever the cut-off worker did on its return (refused write, exit 75, a new registration), the job
            // completed once, by a peer.
            _ = await cutOff.waitForExit(timeout: .seconds(20))
            #expect(try await setup.sql("SELECT count(*) FROM job_events WHERE job_id = \(id) AND to_state = 'completed'") == "1")
            #expect(try await setup.sql("SELECT count(*) FROM job_events WHERE job_id = \(id) AND to_state = 'completed' AND worker_id = '\(firstHolder)'") == "0")
            print("multi-host: the cut-off worker after the link returned: exit \(String(describing: cutOff.process.ended)), log: \(cutOff.log.split(separator: "\n").suffix(4).joined(separator: " | "))")
            for peer in peers { peer.signal(SIGTERM) }
            for peer in peers { _ = await peer.waitForExit(timeout: .seconds(30)) }
            try await setup.expectSound()
        }
    }
}

/// A lab of three hosts, a database on the test server the hosts reach over the bridge, and helpers.
struct MultiHost: Sendable {
    let lab: NetworkLab
    /// The database as the test reaches it (loopback).
    let url: String
    let directory: TemporaryDirectory

    static func with(_ body: (MultiHost) async throws -> Void) async throws {
        try await NetworkLab.with(hosts: 3) { lab in
            try await PostgresTestServer.networked.allow(subnet: lab.bridge.subnet, listenOn: lab.bridge.address)
            let setup = MultiHost(lab: lab, url: try await PostgresTestServer.networked.database("multihost"), directory: try TemporaryDirectory("multihost"))
            defer { setup.directory.remove() }
            try await body(setup)
        }
    }

    /// Every job's state and holder, for a failure's message.
    func dump() async throws -> String {
        try await sql("SELECT string_agg(id || ' ' || state || ' ' || coalesce(worker_id, '-'), '; ' ORDER BY id) FROM jobs")
    }

    /// Runs SQL on the database; its unaligned output.
    func sql(_ text: String) async throws -> String {
        try await PostgresTestServer.networked.psql(url, text)
    }

    /// The server's clock, in the journal's unit (microseconds).
    func serverMicros() async throws -> Int64 {
        try #require(Int64(try await sql("SELECT worker_micros()")))
    }

    /// Enqueues one job per payload through the CLI (from the test's own namespace); their ids.
    @discardableResult
    func enqueue(_ handler: String, _ payloads: [String]) async throws -> [Int64] {
        let result = try await runProcess(
            ProductBinary.path("worker"), ["enqueue", handler, "--payloads-from", "-", "--db", url],
            stdin: payloads.joined(separator: "\n") + "\n")
        try #require(result.status == 0, "enqueue failed: \(result.stderr)")
        return result.stdout.split(separator: "\n").compactMap { Int64($0) }
    }

    /// Starts `worker run` with the example plugins in host `host`, on the database through the bridge.
    func startWorker(host: Int, _ extra: [String]) async throws -> RunningWorker {
        try await lab.start(
            host: host, ["run", "--db", lab.hostURL(url), "--plugin", PluginFixtures.examples] + extra,
            logPath: directory.file("worker\(host)-\(UInt32.random(in: 0...UInt32.max)).log"))
    }

    /// The journal's promises: nothing running, no job completed twice, every history a chain (each event leaves
    /// the state the one before entered), and `worker journal verify` passes.
    func expectSound(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(try await sql("SELECT count(*) FROM jobs WHERE state = 'running'") == "0", sourceLocation: sourceLocation)
        let twice = try await sql("SELECT string_agg(job_id::text, ',') FROM (SELECT job_id FROM job_events WHERE to_state = 'completed' GROUP BY job_id HAVING count(*) > 1) d")
        #expect(twice.isEmpty, "jobs completed twice: \(twice)", sourceLocation: sourceLocation)
        let broken = try await sql("""
            SELECT string_agg(job_id::text, ',') FROM (
                SELECT job_id, from_state, lag(to_state) OVER (PARTITION BY job_id ORDER BY id) AS before FROM job_events) e
            WHERE from_state IS DISTINCT FROM before
            """)
        #expect(broken.isEmpty, "jobs whose history is not a chain: \(broken)", sourceLocation: sourceLocation)
        let verify = try await runProcess(ProductBinary.path("worker"), ["journal", "verify", "--db", url])
        #expect(verify.status == 0, "journal verify: \(verify.stdout) \(verify.stderr)", sourceLocation: sourceLocation)
    }
}
