import ArgumentParser
import Foundation
import WorkerStore
import WorkerRuntime

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show jobs per queue and state, how long the oldest queued job waits, and the live workers with their pid and uptime.")

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() async throws {
        let journal = try await database.open()
        let overview = try await journal.overview()
        var dead = Set<String>()
        for worker in overview.workers where try await !journal.isLive(worker: worker.registration.id) {
            dead.insert(worker.registration.id)
        }
        let settings = try await journal.queues().map(\.settings).filter { $0.updatedAt != nil }
        if json {
            guard case .object(let members) = Self.json(overview, dead: dead) else { return }
            Output.line(JSON.object(members + [("queue_settings", .array(settings.map(QueueJSON.json)))]).text)
        } else {
            for line in Self.table(overview, dead: dead) + Self.settingsLines(settings) { Output.line(line) }
        }
    }

    static let states: [JobState] = [.scheduled, .queued, .running, .retrying, .interrupted, .completed, .dead, .cancelled]

    static func table(_ overview: Overview, dead: Set<String>) -> [String] {
        let queues = overview.counts.keys.sorted()
        var rows = [["queue"] + states.map(\.rawValue) + ["oldest queued"]]
        var totals = [JobState: Int]()
        for queue in queues {
            let counts = overview.counts[queue] ?? [:]
            for (state, count) in counts { totals[state, default: 0] += count }
            let oldest = overview.oldestQueued[queue].map { age(overview.at - $0) } ?? "-"
            rows.append([queue] + states.map { String(counts[$0] ?? 0) } + [oldest])
        }
        if queues.count != 1 {
            let oldest = overview.oldestQueued.values.min().map { age(overview.at - $0) } ?? "-"
            rows.append(["total"] + states.map { String(totals[$0] ?? 0) } + [oldest])
        }
        var lines = align(rows, rightFrom: 1)
        lines.append("")
        if overview.workers.isEmpty {
            lines.append("no live workers")
        } else {
            lines.append("\(overview.workers.count) worker(s):")
            var workerRows = [["worker", "pid", "host", "uptime", "heartbeat", "state"]]
            for record in overview.workers {
                let id = record.registration.id
                workerRows.append([
                    id, String(record.registration.pid), record.registration.host, age(overview.at - record.startedAt),
                    age(overview.at - record.heartbeatAt) + " ago",
                    dead.contains(id) ? "dead: its jobs are recovered at the next start or by `worker resume`" : "live",
                ])
            }
            lines += align(workerRows, rightFrom: 1, rightTo: 4).map { "  " + $0 }
        }
        return lines
    }

    static func json(_ overview: Overview, dead: Set<String>) -> JSON {
        let queues = overview.counts.keys.sorted().map { queue -> (String, JSON) in
            let counts = overview.counts[queue] ?? [:]
            let oldest = overview.oldestQueued[queue].map { JSON.raw(String(format: "%.3f", Double(overview.at - $0) / 1e6)) } ?? .null
            return (queue, .object(states.map { ($0.rawValue, .int(Int64(counts[$0] ?? 0))) } + [("oldest_queued_seconds", oldest)]))
        }
        let workers = overview.workers.map { record in
            JSON.object([
                ("id", .string(record.registration.id)),
                ("pid", .int(Int64(record.registration.pid))),
                ("host", .string(record.registration.host)),
                ("started_at", .string(iso8601(record.startedAt))),
                ("uptime_seconds", .int((overview.at - record.startedAt) / 1_000_000)),
                ("heartbeat_at", .string(iso8601(record.heartbeatAt))),
                ("alive", .bool(!dead.contains(record.registration.id))),
            ])
        }
        return .object([("at", .string(iso8601(overview.at))), ("queues", .object(queues)), ("workers", .array(workers))])
    }

    /// One line per queue paused or with limits: `queue mail: paused, concurrency=2 rate=20/1`.
    static func settingsLines(_ settings: [QueueSettings]) -> [String] {
        let shown = settings.filter { $0.pausedAt != nil || $0.limitsDescription != "none" }
        guard !shown.isEmpty else { return [] }
        return [""] + shown.map { queue in
            let state = queue.pausedAt == nil ? "active" : "paused (no worker claims its jobs)"
            return "queue \(ControlEscaping.escape(queue.name)): \(state), limits: \(queue.limitsDescription)"
        }
    }

    /// `850ms`, `42s`, `5m12s`, `3h04m`, `2d05h`.
    static func age(_ micros: Micros) -> String {
        let micros = max(0, micros)
        if micros < 1_000_000 { return "\(micros / 1000)ms" }
        let seconds = micros / 1_000_000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m\(String(format: "%02d", seconds % 60))s" }
        if seconds < 86_400 { return "\(seconds / 3600)h\(String(format: "%02d", seconds % 3600 / 60))m" }
        return "\(seconds / 86_400)d\(String(format: "%02d", seconds % 86_400 / 3600))h"
    }

    /// Columns padded to their widest cell; columns `rightFrom..<rightTo` right-aligned (numbers).
    static func align(_ rows: [[String]], rightFrom: Int, rightTo: Int = .max) -> [String] {
        let rows = rows.map { $0.map(ControlEscaping.escape) }  // widths of what is shown
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column >= rightFrom && column < rightTo ? pad + cell : cell + (column == row.count - 1 ? "" : pad)
            }.joined(separator: "  ")
        }
    }
}
