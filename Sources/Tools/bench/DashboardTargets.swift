import ArgumentParser
import Foundation
import WorkerStore

/// What `bench dashboard` asks of the endpoint: every page and API call, with filters that hit each index (and the
/// text search, which none does), a deep cursor page, and the actions, each on a job of its own.
struct DashboardTargets {
    struct Request {
        let method: String
        /// The path as printed (with ID for the job acted on).
        let label: String
        /// The path of the `index`th request.
        let path: (Int) -> String
    }

    let requests: [Request]

    /// Picks the jobs the requests name from `journal`: `count` dead ones to retry, `count` queued ones to
    /// cancel, a dead one and one retried once to show, and the id halfway through the history for a deep page.
    static func pick(_ journal: any JobStore, count: Int) async throws -> DashboardTargets {
        let dead = try await journal.jobs(JobFilter(state: .dead, queue: "billing", limit: count)).map(\.id)
        let queued = try await journal.jobs(JobFilter(state: .queued, queue: "default", limit: count)).map(\.id)
        guard dead.count == count, queued.count == count, let newest = try await journal.jobs(JobFilter(limit: 1, newestFirst: true)).first?.id else {
            throw ValidationError("the seeded journal has too few dead or queued jobs for \(count) requests")
        }
        let middle = newest / 2
        let flaky = middle - middle % 1000 + 5  // DashboardSeed.fate: failed once, completed on its retry
        let shown = dead[0]
        var requests: [Request] = []
        func get(_ path: String) { requests.append(Request(method: "GET", label: path, path: { _ in path })) }
        for prefix in ["", "/api"] {
            get(prefix == "" ? "/" : "/api/overview")
            for query in [
                "", "?state=dead", "?state=retrying", "?state=queued&queue=billing", "?state=completed&queue=mail",
                "?handler=render-report&order=oldest", "?schedule=nightly-report", "?q=user-4242%40example.com", "?q=no-such-text-anywhere",
                "?state=dead&q=insufficient", "?after=\(middle)", "?state=completed&after=\(middle)",
                "?queue=reports&handler=export-csv&after=\(middle)",
            ] {
                get("\(prefix)/jobs\(query)")
            }
            get("\(prefix)/jobs/\(shown)")
            get("\(prefix)/jobs/\(flaky)")
            get("\(prefix)/workers")
            get("\(prefix)/schedules")
        }
        get("/metrics")
        requests.append(Request(method: "POST", label: "/api/jobs/ID/retry (a dead job)", path: { "/api/jobs/\(dead[$0])/retry" }))
        requests.append(Request(method: "POST", label: "/api/jobs/ID/cancel (a queued job)", path: { "/api/jobs/\(queued[$0])/cancel" }))
        requests.append(Request(method: "POST", label: "/api/queues/mail/pause, then resume", path: { "/api/queues/mail/\($0 % 2 == 0 ? "pause" : "resume")" }))
        requests.append(Request(method: "POST", label: "/api/schedules/hourly-sync/run", path: { _ in "/api/schedules/hourly-sync/run" }))
        return DashboardTargets(requests: requests)
    }
}
