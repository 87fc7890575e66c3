import Schedules
import WorkerStore

/// How schedules and their events are printed: text lines for people, JSON for programs.
enum SchedulePresentation {
    /// One line per schedule for `schedule list`.
    static func line(_ schedule: Schedule) -> String {
        let d = schedule.definition
        let state = schedule.pausedAt == nil ? "next \(schedule.nextTick.map(iso8601) ?? "never")" : "paused"
        return "\(d.name)  \(d.cron)  \(d.timeZone)  \(d.handler) on \(d.queue)  \(state)"
    }

    /// `schedule show`'s text.
    static func lines(_ detail: ScheduleDetail) -> [String] {
        let s = detail.schedule
        let d = s.definition
        var lines = [
            "schedule \(d.name): \(s.pausedAt == nil ? "active" : "paused since \(iso8601(s.pausedAt!))")",
            "  cron \(d.cron) in \(d.timeZone); handler \(d.handler), queue \(d.queue), priority \(d.priority), payload \(d.payload)",
            "  missed ticks: \(d.missed.rawValue)\(d.missed == .all ? " within \(d.catchUpWindow.components.seconds) s" : "")\(d.noOverlap ? "; no overlap" : "")",
            "  next tick \(s.nextTick.map(iso8601) ?? "never"); last tick \(s.lastTick.map(iso8601) ?? "none"); last job \(s.lastJob.map(String.init) ?? "none")",
            "  ticks fired \(detail.totals[.fired] ?? 0), skipped \(detail.totals[.skipped] ?? 0), missed \(detail.totals[.missed] ?? 0); manual runs \(detail.totals[.manual] ?? 0)",
        ]
        if !detail.recent.isEmpty { lines.append("recent events (newest first):") }
        for event in detail.recent {
            var text = "  \(iso8601(event.at))  \(event.outcome.rawValue)"
            if let tick = event.tick { text += " tick \(iso8601(tick))" }
            if let last = event.lastTick, event.count > 1 { text += " to \(iso8601(last)) (\(event.count) ticks)" }
            if let job = event.jobID { text += " job \(job)" }
            if let worker = event.workerID { text += " by \(worker)" }
            lines.append(text + ": \(event.reason)")
        }
        return lines
    }

}
