import Foundation
import Journal
import WorkerStore
import WorkerTestKit

/// The invariants after a chaos run, checked from the journal and the effect files.
struct ChaosReport {
    var jobs = 0
    var lost: [String] = []
    var completedTwice: [Int64] = []
    var running = 0
    var missingLines: [String] = []
    /// Step lines written twice by a job a worker died under, or whose handler a drain abandoned at its deadline
    /// (its thread died with the process): at-least-once for a step in flight at a kill.
    var duplicateLines = 0
    /// Step lines written twice by a job no worker died or abandoned it under: a broken promise.
    var unexplainedDuplicates: [String] = []
    var recoveredJobs = 0
    var dead: [String: Int] = [:]
    var verify = ""
    var kills: [String: Int] = [:]
    var recoveries: [Double] = []

    var holds: Bool {
        lost.isEmpty && completedTwice.isEmpty && running == 0 && missingLines.isEmpty && unexplainedDuplicates.isEmpty
            && verify.isEmpty
    }

    static func check(_ run: ChaosRun) async throws -> ChaosReport {
        var report = ChaosReport()
        report.kills = run.kills
        report.recoveries = run.recoveries
        report.jobs = run.enqueued.count
        let journal = run.journal
        for id in run.enqueued {
            guard let job = try? await journal.job(id) else {
                report.lost.append("job \(id) is missing")
                continue
            }
            let events = try await journal.events(job: id)
            let died = events.contains { $0.reason.contains("died") }
            if died { report.recoveredJobs += 1 }
            let abandoned = events.contains { $0.reason.contains("the handler did not stop in time") }
            if events.filter({ $0.to == .completed }).count > 1 { report.completedTwice.append(id) }
            switch job.state {
            case .completed: break
            case .running: report.running += 1
            case .dead:
                // Allowed: a crash job (poison), or a job three workers died under.
                if job.handler != "crash" && job.crashes < 3 { report.lost.append("job \(id) \(job.handler) is dead: \(job.lastError ?? "")") }
                report.dead[job.handler, default: 0] += 1
            default: report.lost.append("job \(id) \(job.handler) ended \(job.state.rawValue)")
            }
            if let append = run.appends[id], job.state == .completed {
                let lines = ((try? String(contentsOfFile: append.file, encoding: .utf8)) ?? "").split(separator: "\n")
                for step in 1...append.steps {
                    let count = lines.filter { $0 == "\(append.tag):\(step)" }.count
                    if count == 0 { report.missingLines.append("\(append.tag):\(step)") }
                    if count > 1 {
                        if died || abandoned { report.duplicateLines += count - 1 } else { report.unexplainedDuplicates.append("\(append.tag):\(step) ×\(count)") }
                    }
                }
            }
        }
        let verify = try await runProcess(ChaosPaths.worker, ["journal", "verify", "--db", run.db])
        if verify.status != 0 { report.verify = verify.stdout + verify.stderr }
        return report
    }

    var summary: String {
        let killText = kills.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let slowest = recoveries.max().map { String(format: "%.0f ms", $0) } ?? "-"
        let median = recoveries.sorted().dropFirst(recoveries.count / 2).first.map { String(format: "%.0f ms", $0) } ?? "-"
        return """
            kills: \(kills.values.reduce(0, +)) (\(killText))
            jobs: \(jobs); recovered from dead workers: \(recoveredJobs); dead: \(dead.isEmpty ? "none" : dead.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
            lost: \(lost.count)\(lost.isEmpty ? "" : " " + lost.prefix(5).joined(separator: "; "))
            completed twice: \(completedTwice.count)\(completedTwice.isEmpty ? "" : " \(completedTwice.prefix(10))")
            running: \(running)
            append step lines missing: \(missingLines.count)\(missingLines.isEmpty ? "" : " \(missingLines.prefix(10))")
            append step lines written twice (step in flight at a kill or an abandoned handler): \(duplicateLines); without a kill: \(unexplainedDuplicates.count)
            journal verify: \(verify.isEmpty ? "sound" : verify)
            recovery (start to ready): median \(median), slowest \(slowest)
            """
    }
}
