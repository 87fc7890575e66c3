import WorkerTestKit
import Foundation
import Journal
import WorkerStore
import Testing

@Suite struct StateMachineTests {
    /// The contract's transitions, written out independently of the implementation's table.
    static let legal: Set<String> = [
        "nil>scheduled", "nil>queued",
        "scheduled>queued", "scheduled>cancelled",
        "queued>running", "queued>cancelled",
        "running>completed", "running>retrying", "running>dead", "running>interrupted", "running>cancelled",
        "retrying>running", "retrying>queued", "retrying>cancelled",
        "interrupted>running", "interrupted>dead", "interrupted>cancelled",
        "dead>queued", "cancelled>queued",
    ]

    @Test func everyPairIsLegalExactlyWhenTheContractSaysSo() {
        let sources: [JobState?] = [nil] + JobState.allCases.map(Optional.some)
        for from in sources {
            for to in JobState.allCases {
                let key = "\(from?.rawValue ?? "nil")>\(to.rawValue)"
                #expect(JobState.canTransition(from: from, to: to) == Self.legal.contains(key), "\(key)")
            }
        }
    }

    @Test(arguments: JobState.allCases)
    func retryIsAcceptedOnlyFromDeadCancelledAndRetrying(state: JobState) async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.job(in: state)
        let code = await journalErrorCode { _ = try await fixture.journal.retry(job: id) }
        if [.dead, .cancelled, .retrying].contains(state) {
            #expect(code == nil)
            #expect(try await fixture.journal.job(id).state == .queued)
        } else {
            #expect(code == .illegalTransition)
            #expect(try await fixture.journal.job(id).state == state)
        }
    }

    @Test(arguments: JobState.allCases)
    func cancelMovesWaitingJobsAndRefusesFinishedOnes(state: JobState) async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.job(in: state)
        var result: CancelResult?
        let code = await journalErrorCode { result = try await fixture.journal.cancel(job: id) }
        let after = try await fixture.journal.job(id)
        switch state {
        case .scheduled, .queued, .retrying, .interrupted:
            #expect(code == nil)
            #expect(after.state == .cancelled)
            #expect(after.finishedAt != nil)
        case .running:
            #expect(code == nil)
            #expect(after.state == .running)
            #expect(after.cancelRequestedAt != nil)
            if case .requested = result {} else { Issue.record("expected a cancel request, got \(String(describing: result))") }
        case .cancelled:
            if case .alreadyCancelled = result {} else { Issue.record("expected alreadyCancelled") }
        case .completed, .dead:
            #expect(code == .illegalTransition)
            #expect(after.state == state)
        }
    }

    @Test(arguments: JobState.allCases)
    func onlyARunningJobHeldByTheWorkerCanBeFinished(state: JobState) async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.job(in: state)
        let code = await journalErrorCode {
            _ = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .completed)
        }
        #expect(code == (state == .running ? nil : .notHeld))
        let checkpointCode = await journalErrorCode {
            try await fixture.journal.checkpoint(job: id, worker: "someone-else", data: Data("x".utf8))
        }
        #expect(checkpointCode == .notHeld)
    }

    @Test func everyTransitionAppendsOneEventWithWorkerPidAndReason() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue(maxAttempts: 2)
        _ = try await fixture.claim()
        _ = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .failed(error: "disk on fire"))
        fixture.clock.advance(seconds: 10)
        _ = try await fixture.claim()
        _ = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .failed(error: "still"))
        let events = try await fixture.journal.events(job: id)
        #expect(events.map(\.to) == [.queued, .running, .retrying, .running, .dead])
        #expect(events.map(\.from) == [nil, .queued, .running, .retrying, .running])
        #expect(events.map(\.attempt) == [0, 1, 1, 2, 2])
        #expect(events.dropFirst().allSatisfy { $0.workerID == fixture.worker })
        #expect(events.allSatisfy { $0.pid == getpid() && !$0.reason.isEmpty })
        #expect(events[2].reason.contains("disk on fire"))
        #expect(events[4].reason.contains("attempts exhausted"))
        let job = try await fixture.journal.job(id)
        #expect(job.state == .dead)
        #expect(job.lastError == "still")
        #expect(try await fixture.journal.verify().isSound)
    }

    /// A failure's error is a plugin's text, of any size: the job keeps at most `Job.errorLimit` bytes of it (cut at
    /// a character boundary, with the full length said), and so does the event's reason.
    @Test func aHugeErrorIsCutInTheJobAndItsEvent() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue(maxAttempts: 1)
        _ = try await fixture.claim()
        let huge = String(repeating: "é", count: 100_000)  // 200,000 bytes, two per character
        _ = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .failed(error: huge))
        let job = try await fixture.journal.job(id)
        let kept = try #require(job.lastError)
        #expect(kept.utf8.count <= Job.errorLimit)
        #expect(kept.hasPrefix("éé") && kept.hasSuffix("… (cut: 200000 bytes)"), "\(kept.suffix(40))")
        let reason = try #require(try await fixture.journal.events(job: id).last?.reason)
        #expect(reason.utf8.count < Job.errorLimit + 100 && reason.contains("(cut: 200000 bytes)"))
        #expect(try await fixture.journal.verify().isSound)
    }
}
