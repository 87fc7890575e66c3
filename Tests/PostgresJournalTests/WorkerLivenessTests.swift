import Foundation
import PostgresNIO
@testable import PostgresJournal
import Testing
import WorkerStore
import WorkerTestKit

/// Liveness on PostgreSQL: a worker is live while its lock session holds its advisory lock; a peer recovers the jobs
/// of one whose lock is free, with the SQLite journal's transitions, reasons and crash counts.
@Suite struct WorkerLivenessTests {
    @Test func aRegisteredWorkerHoldsItsLockAndIsNeverRecovered() async throws {
        let fixture = try await RunFixture("live")
        let a = try await fixture.worker("wa", handlers: ["noop", "mail"])
        let b = try await fixture.worker("wb")
        let id = try await fixture.enqueue(a)
        #expect(try await fixture.claim(a, "wa") == [id])
        #expect(try await a.isLive(worker: "wa"))
        #expect(try await b.isLive(worker: "wa"))
        #expect(try await !b.isLive(worker: "nobody"))
        #expect(try await b.liveWorkerCount() == 2)
        #expect(try await b.deadWorkers(except: nil).isEmpty)
        #expect(try await b.recoverDeadWorkers(recoverer: "wb", maxCrashes: 3).isEmpty)
        #expect(try await fixture.job(b, id).state == .running)
        // The lock session is named and holds the lock; the row records the server's start.
        let held = try await fixture.sql("""
            SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'worker wa' AND a.datname = current_database()
            """)
        #expect(held == "1")
        #expect(try await fixture.sql("""
            SELECT server_started_at = (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint FROM workers WHERE id = 'wa'
            """) == "t")
        #expect(try await b.unservedHandlers(among: ["noop", "send"]) == ["send"])
        await closeAll(a, b)
    }

    @Test func unservedHandlersIsNilOnAJournalNoWorkerServedYet() async throws {
        let fixture = try await RunFixture("served")
        let journal = try await fixture.open()
        #expect(try await journal.unservedHandlers(among: ["noop"]) == nil)
        await closeAll(journal)
    }

    @Test func aKilledWorkerIsRecoveredByAPeerWithTheSameReasonsAndCounts() async throws {
        let fixture = try await RunFixture("killed")
        let a = try await fixture.worker("wa")
        let b = try await fixture.worker("wb")
        let plain = try await fixture.enqueue(a)
        let asked = try await fixture.enqueue(a)
        #expect(try await fixture.claim(a, "wa", 2) == [plain, asked])
        _ = try await fixture.sql("UPDATE jobs SET cancel_requested_at = worker_micros() WHERE id = \(asked)")
        try await fixture.kill("wa")
        let recovered = try await fixture.recoverOnce(b, by: "wb", "wa")
        #expect(recovered.reason == "worker wa (pid 4242) died")
        #expect(recovered.jobs.map(\.id) == [plain, asked])
        let interrupted = try await fixture.job(b, plain)
        #expect(interrupted.state == .interrupted && interrupted.crashes == 1 && interrupted.attempts == 1)
        #expect(interrupted.finishedAt == nil)
        let cancelled = try await fixture.job(b, asked)
        #expect(cancelled.state == .cancelled && cancelled.finishedAt != nil)
        let event = try #require(try await fixture.events(b, plain).last)
        #expect(event.from == .running && event.to == .interrupted && event.workerID == "wb" && event.attempt == 1)
        #expect(event.reason == "worker wa (pid 4242) died")
        #expect(try await fixture.events(b, asked).last?.reason == "worker wa (pid 4242) died; an operator had asked to cancel it")
        #expect(try await fixture.sql("SELECT stop_reason FROM workers WHERE id = 'wa'") == "died: worker wa (pid 4242) died")
        // Recovered once: nobody is dead any more, and the peer is still live.
        #expect(try await b.recoverDeadWorkers(recoverer: "wb", maxCrashes: 3).isEmpty)
        #expect(try await b.isLive(worker: "wb"))
        #expect(try await !b.isLive(worker: "wa"))
        // The cut-off worker's late outcome is refused; the job stays as recovery left it.
        let late = try await a.finish(batch: [(plain, .completed)], worker: "wa")
        guard case .failure(let error) = late[0] else { Issue.record("a late completion was recorded"); return }
        #expect(error.code == .notHeld && error.message.contains("interrupted"))
        #expect(try await fixture.job(b, plain).state == .interrupted)
        #expect(try await fixture.events(b, plain).filter { $0.to == .completed }.isEmpty)
        await closeAll(a, b)
    }

    /// A round still on its way when a peer recovers its worker (the lock session gone, the pool connection not
    /// yet) waits for the recovery, then finds its worker stopped and claims nothing: no job is left `running`
    /// under a stopped worker.
    @Test func aRoundWaitsForARecoveryOfItsWorkerAndThenClaimsNothing() async throws {
        let fixture = try await RunFixture("stopping")
        let j = try await fixture.worker("w1")
        let job = try await fixture.enqueue(j)
        let recovery = try await Connections.connect(fixture.location, .forTests)
        try await recovery.run("BEGIN")
        try await recovery.run("SELECT id FROM workers WHERE id = 'w1' FOR UPDATE")  // as recoverDeadWorkers does
        let round = Task { try await fixture.claim(j, "w1") }
        try await fixture.eventually("the round waits for the worker's row") {
            try await fixture.sql("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype IN ('tuple', 'transactionid')") != "0"
        }
        try await recovery.run("UPDATE workers SET stopped_at = worker_micros() WHERE id = 'w1'")
        try await recovery.run("COMMIT")
        await #expect(throws: JournalError.self) { try await round.value }
        #expect(try await fixture.job(j, job).state == .queued)
        await recovery.closeNow()
        await closeAll(j)
    }

    @Test func aWorkerThatDiesUnderTheSameJobThreeTimesMakesItDead() async throws {
        let fixture = try await RunFixture("poison")
        let peer = try await fixture.worker("peer")
        let id = try await fixture.enqueue(peer, "crash")
        for death in 1...3 {
            let worker = "w-\(death)"
            let journal = try await fixture.worker(worker)
            #expect(try await fixture.claim(journal, worker) == [id])
            try await fixture.kill(worker)
            let recovered = try await fixture.recoverOnce(peer, by: nil, worker)
            #expect(recovered.jobs.map(\.id) == [id])
            #expect(recovered.jobs[0].crashes == death && recovered.jobs[0].attempts == death)
            #expect(recovered.jobs[0].state == (death < 3 ? .interrupted : .dead))
            await closeAll(journal)
        }
        let job = try await fixture.job(peer, id)
        #expect(job.lastError?.contains("a worker died under this job 3 times, giving up (poison job)") == true)
        #expect(try await peer.liveWorkerCount() == 1)
        await closeAll(peer)
    }

    @Test func aWorkerThatLostItsLockToAServerRestartIsRecoveredWithoutACrash() async throws {
        let fixture = try await RunFixture("restart")
        let a = try await fixture.worker("wa")
        let b = try await fixture.worker("wb")
        let id = try await fixture.enqueue(a)
        #expect(try await fixture.claim(a, "wa") == [id])
        // As if it registered before the server's last start (a restart frees every lock); past the grace.
        _ = try await fixture.sql("UPDATE workers SET server_started_at = server_started_at - 1000000 WHERE id = 'wa'")
        try await fixture.eventually("the server has been up longer than the grace") {
            try await fixture.sql("SELECT worker_micros() > (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint + 10000000") == "t"
        }
        try await fixture.kill("wa")
        let recovered = try await fixture.recoverOnce(b, by: "wb", "wa", maxCrashes: 1)
        #expect(recovered.reason.contains("lost its lock when the PostgreSQL server restarted"))
        let job = try await fixture.job(b, id)
        #expect(job.state == .interrupted && job.crashes == 0)  // maxCrashes 1 would have made a crash poison
        await closeAll(a, b)
    }

    @Test func deregisteringFreesTheLockAndNeedsNoRunningJobs() async throws {
        let fixture = try await RunFixture("dereg")
        let a = try await fixture.worker("wa")
        let b = try await fixture.worker("wb")
        let id = try await fixture.enqueue(a)
        #expect(try await fixture.claim(a, "wa") == [id])
        #expect(await journalErrorCode { try await a.deregister(worker: "wa", reason: "stopping") } == .illegalTransition)
        #expect(try await a.isLive(worker: "wa"))
        try await fixture.finish(a, id, "wa", .completed)
        try await a.deregister(worker: "wa", reason: "stopping")
        #expect(try await !b.isLive(worker: "wa"))
        #expect(try await b.deadWorkers(except: nil).isEmpty)  // stopped, not dead
        #expect(try await fixture.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'worker wa' AND datname = current_database()") == "0")
        #expect(await a.storageProblem() == nil)  // a session ended on purpose is no loss
        await closeAll(a, b)
    }

    @Test func theWatchdogNoticesALostLockSessionAndClaimsStop() async throws {
        let fixture = try await RunFixture("watchdog")
        let a = try await fixture.worker("wa")
        let b = try await fixture.worker("wb")
        let held = try await fixture.enqueue(a)
        #expect(try await fixture.claim(a, "wa") == [held])
        let waiting = try await fixture.enqueue(a)
        #expect(await a.storageProblem() == nil)
        try await fixture.kill("wa")
        try await fixture.eventually("the journal reports the lost session") { await a.storageProblem() != nil }
        let problem = try #require(await a.storageProblem())
        #expect(problem.message.contains("lost the lock session to the PostgreSQL server at \(fixture.location.endpoint)"))
        // A pure claim is refused; a round records its outcomes but claims nothing.
        #expect(await journalErrorCode { _ = try await fixture.claim(a, "wa") } == .unavailable)
        let round = try await a.finishAndClaim(finished: [(held, .completed)], claim: ClaimRequest(worker: "wa", limit: 5))
        #expect(round.claimed.isEmpty)
        #expect((try? round.finished[0].get()) == .completed)  // not recovered yet: still its job
        #expect(try await fixture.job(b, waiting).state == .queued)
        #expect(try await fixture.claim(b, "wb") == [waiting])
        await closeAll(a, b)
    }

    /// A server that stops answering (its backend is frozen with SIGSTOP: nothing closes, a ping just hangs) is
    /// noticed by the ping's deadline, without waiting for the hung query.
    ///
    /// Its server is its own: a backend stopped at the wrong instant can hold a lock every other session needs (seen:
    /// five other tests on the shared server lost their lock sessions while it was frozen).
    @Test func theWatchdogNoticesASilentSessionByItsPingDeadline() async throws {
        let server = PostgresTestServer()  // stopped at the end, or at exit when the test fails first
        let fixture = try await RunFixture("silent", server: server)
        let a = try await fixture.worker("wa")
        let backend = try #require(Int32(try await fixture.sql(
            "SELECT pid FROM pg_stat_activity WHERE application_name = '\(LockSession.applicationName("wa"))' AND datname = current_database()")))
        #expect(kill(backend, SIGSTOP) == 0)
        let frozen = ContinuousClock.now
        try await fixture.eventually("the journal reports the silent session") { await a.storageProblem() != nil }
        print("silent lock session noticed after \(ContinuousClock.now - frozen)")
        kill(backend, SIGCONT)
        #expect(await journalErrorCode { _ = try await fixture.claim(a, "wa") } == .unavailable)
        await closeAll(a)
        try await server.stop()
    }

    /// A process whose task pool is busy (every cooperative thread taken for longer than the ping's deadline, as a
    /// loaded CI machine or a burst of work can do) still hears the server's answer in time: the ping is judged on
    /// the connection's event loop, so only a server or link that really is silent counts as a lost session. The
    /// server's backend is frozen while the ping goes out and thawed (by a thread outside the pool) 100 ms into the
    /// 4 s the pool is blocked, so the answer arrives well within the 2.5 s deadline but no task can read it.
    @Test func aBusyProcessIsNotMistakenForASilentSession() async throws {
        let server = PostgresTestServer()  // its own, as the test above: it freezes a backend too
        let fixture = try await RunFixture("busy", server: server)
        let journal = try await fixture.open()
        let connection = try await Connections.connect(journal.server, journal.options)
        let backend = try #require(try await connection.query("SELECT pg_backend_pid()", logger: journal.logger).collect().first?.decode(Int32.self))
        #expect(await LockSession.ping(connection, logger: journal.logger) == nil)
        #expect(kill(backend, SIGSTOP) == 0)
        defer { kill(backend, SIGCONT) }
        let verdict = Task { await LockSession.ping(connection, deadline: .milliseconds(2500), logger: journal.logger) }
        try await Task.sleep(for: .milliseconds(30))  // the ping is on the wire, unanswered
        Thread.detachNewThread {
            usleep(100_000)
            kill(backend, SIGCONT)
        }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<ProcessInfo.processInfo.activeProcessorCount {
                group.addTask { usleep(4_000_000) }  // blocks its cooperative thread on purpose
            }
        }
        let answer = await verdict.value
        #expect(answer == nil)
        // A backend that stays frozen is still a silent session.
        #expect(kill(backend, SIGSTOP) == 0)
        #expect(await LockSession.ping(connection, deadline: .milliseconds(300), logger: journal.logger)?.contains("did not answer a ping") == true)
        kill(backend, SIGCONT)
        try await connection.close()
        await closeAll(journal)
        try await server.stop()
    }
}
