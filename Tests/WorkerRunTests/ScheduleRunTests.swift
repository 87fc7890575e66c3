import Foundation
import Schedules
import Testing
import WorkerStore
import WorkerTestKit

/// Durable schedules fired by real `worker run` processes: exactly one job per tick through a kill, a drain and an
/// outage of every worker. Judged from the journal (the jobs and the ticks' records, each with its tick instant),
/// never from how long the test waited.
@Suite(.serialized) struct ScheduleRunTests {
    @Test(arguments: StoreKind.allCases)
    func threeWorkersFireEveryTickOnceThroughAKillADrainAndAnOutage(kind: StoreKind) async throws {
        let fixture = try await RunFixture.make(kind)
        defer { fixture.remove() }
        let journal = fixture.journal
        // Patience for SQLite's write lock: six processes share two loaded cores here (three workers TERMed at once
        // timed out at the default 5 s under load and exited 75, as they should).
        let patience = ["--busy-timeout", "30"]
        var workers = try await (0..<3).asyncMap { try await fixture.start(patience, log: "first-\($0).log") }
        for worker in workers { #expect(await worker.waitForLog("ready", timeout: .seconds(60)), "\(worker.log)") }
        // Added once the workers look: every tick from now on falls due while a worker runs.
        for policy in MissedTicks.allCases {
            _ = try await journal.addSchedule(
                ScheduleDefinition(name: policy.rawValue, handler: "noop", cron: "* * * * * *", missed: policy), replace: false)
        }
        try await Task.sleep(for: .seconds(6))
        workers[0].signal(SIGKILL)
        _ = await workers[0].waitForExit(timeout: .seconds(30))
        try await Task.sleep(for: .seconds(4))
        workers[1].signal(SIGTERM)
        #expect(await workers[1].waitForExit(timeout: .seconds(30))?.status == 0, "\(workers[1].log.suffix(600))")
        try await Task.sleep(for: .seconds(6))
        workers[2].signal(SIGTERM)
        #expect(await workers[2].waitForExit(timeout: .seconds(30))?.status == 0, "\(workers[2].log.suffix(600))")

        // Every worker is down: the last tick decided before the outage, per schedule.
        var beforeOutage: [String: Micros] = [:]
        for schedule in try await journal.schedules() { beforeOutage[schedule.name] = schedule.lastTick }
        try await Task.sleep(for: .seconds(5))
        workers = try await (0..<3).asyncMap { try await fixture.start(patience, log: "second-\($0).log") }
        for worker in workers { #expect(await worker.waitForLog("ready", timeout: .seconds(60)), "\(worker.log)") }
        // When the first restarted worker opened intake (its log line's time, this host's clock, which is the
        // stores' here): ticks before it fell due while no worker ran.
        let readyAt = try #require(workers.compactMap { Self.loggedAt($0.log, "ready:") }.min(), "no ready line")
        try await Task.sleep(for: .seconds(4))
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { #expect(await worker.waitForExit(timeout: .seconds(30))?.status == 0, "\(worker.log.suffix(600))") }

        let jobs = try await journal.jobs(JobFilter(limit: 100_000))
        for policy in MissedTicks.allCases {
            let name = policy.rawValue
            let events = try await journal.schedule(named: name, recent: 100_000).recent
                .filter { $0.tick != nil }.sorted { $0.tick! < $1.tick! }
            let fired = events.filter { $0.outcome == .fired }
            // One job per fired tick, and no job of the schedule that is not a fired tick's.
            let mine = jobs.filter { $0.schedule == name }
            #expect(Set(mine.map(\.id)) == Set(fired.compactMap(\.jobID)) && mine.count == fired.count, "\(name): \(mine.count) jobs, \(fired.count) fired ticks")
            #expect(events.allSatisfy { $0.outcome != .skipped }, "\(name): nothing overlaps")
            // The decided ticks cover every second from the first on, each exactly once (a missed range counts
            // all its ticks): no tick twice, none left out.
            var expected = try #require(events.first?.tick, "\(name) fired nothing")
            for event in events {
                #expect(event.tick == expected, "\(name): tick \(iso8601(event.tick!)) where \(iso8601(expected)) was due next")
                let last = event.lastTick ?? event.tick!
                #expect(last - event.tick! == Micros(event.count - 1) * 1_000_000, "\(name): a range's count is its ticks")
                expected = last + 1_000_000
            }
            // Nothing was missed while a worker ran: misses only after the outage began, in one decision.
            let outage = try #require(beforeOutage[name])
            let missed = events.filter { $0.outcome == .missed }
            #expect(missed.allSatisfy { $0.tick! > outage }, "\(name): \(missed.map(\.reason))")
            // The ticks of the outage (before any worker was back) get what the policy says.
            let outageTicks = events.filter { $0.tick! > outage && $0.tick! < readyAt }
            let caughtUp = outageTicks.filter { $0.outcome == .fired }.count
            let missedCount = outageTicks.filter { $0.outcome == .missed }.map(\.count).reduce(0, +)
            // The first decision after the restart: `latest` fires one job there (for the most recent due tick).
            let restart = try #require(events.first { $0.tick! > outage })
            let firstBatch = events.filter { $0.at == restart.at && $0.outcome == .fired }.count
            print("\(kind) \(name): \(fired.count) ticks fired; of the outage's \(caughtUp) caught up, \(missedCount) missed; first batch after it fired \(firstBatch)")
            switch policy {
            case .skip:
                #expect(caughtUp == 0 && missedCount >= 3, "skip: \(caughtUp) fired, \(missedCount) missed")
            case .latest:
                #expect(caughtUp <= 1 && firstBatch >= 1 && missedCount >= 3, "latest: \(caughtUp) fired, \(missedCount) missed, \(firstBatch) in the first batch")
            case .all:
                #expect(caughtUp >= 3 && missedCount == 0, "all: \(caughtUp) fired, \(missedCount) missed")
            }
        }
    }

    /// The time of the first log line containing `text` (text log lines start with an ISO 8601 time).
    static func loggedAt(_ log: String, _ text: String) -> Micros? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains(text) }),
              let stamp = line.split(separator: " ").first,
              let date = { () -> Date? in
                  let format = ISO8601DateFormatter()
                  format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                  return format.date(from: String(stamp))
              }()
        else { return nil }
        return date.micros
    }

    /// Every decision is counted in `/metrics` and logged once per schedule and batch: the misses before the worker
    /// started (one line with their count), the fires, and the ticks skipped while a long job of a `--no-overlap`
    /// schedule runs.
    @Test func metricsAndLogsCountFiresSkipsAndMisses() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        _ = try await fixture.journal.addSchedule(
            ScheduleDefinition(name: "late", handler: "noop", cron: "* * * * * *", missed: .skip), replace: false)
        _ = try await fixture.journal.addSchedule(
            ScheduleDefinition(name: "long", handler: "sleep", cron: "* * * * * *", payload: #"{"ms": 60000}"#, noOverlap: true),
            replace: false)
        try await Task.sleep(for: .seconds(2))  // ticks fall due before any worker runs: missed
        let worker = try await fixture.start(["--admin", "127.0.0.1:0", "--drain-timeout", "0"])
        let port = try #require(await worker.adminPort(), "\(worker.log)")
        func sample(_ body: String, _ series: String) -> Double {
            body.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        var metrics = ""
        let counted = await eventually(timeout: .seconds(60)) {
            metrics = (try? await HTTPProbe.get("/metrics", port: port).body) ?? ""
            return sample(metrics, #"worker_schedule_missed_total{schedule="late"}"#) >= 2
                && sample(metrics, #"worker_schedule_fired_total{schedule="late"}"#) >= 1
                && sample(metrics, #"worker_schedule_skipped_total{schedule="long"}"#) >= 1
        }
        #expect(counted, "\(metrics)")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(timeout: .seconds(30))?.status == 0)
        // What the metrics counted is what the journal recorded (the worker's last scrape may be older).
        let late = try await fixture.journal.schedule(named: "late").totals
        #expect(Double(late[.missed] ?? 0) >= sample(metrics, #"worker_schedule_missed_total{schedule="late"}"#))
        let long = try await fixture.journal.schedule(named: "long")
        #expect(long.totals[.fired] == 1 && (long.totals[.skipped] ?? 0) >= 1, "\(long.totals)")
        #expect(long.recent.first { $0.outcome == .skipped }?.reason.contains("unfinished") == true)
        let missLines = worker.log.split(separator: "\n").filter { $0.contains("schedule late:") && $0.contains("missed") }
        #expect(missLines.count == 1, "one line for the misses before the start: \(missLines)")
    }
}
