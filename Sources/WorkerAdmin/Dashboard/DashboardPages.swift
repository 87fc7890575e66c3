import Foundation
import Hummingbird
import Logging
import WorkerStore

/// The HTML pages: each reads what it shows in a few store calls and renders it with its template.
extension Dashboard {
    /// The states in the order the overview's columns show them: every state but `completed`, which a journal of
    /// millions holds mostly and which is shown as attempts completed per minute (the charts) instead of a count
    /// that would read every finished job.
    static let stateColumns: [JobState] = [.queued, .scheduled, .running, .retrying, .interrupted, .dead, .cancelled]

    func registerPages(on router: Router<AdminContext>) {
        router.get("/") { request, _ in await page(request) { viewer in try await overviewPage(viewer) } }
        router.get("jobs") { request, _ in await page(request, back: "/jobs") { viewer in try await jobsPage(request, viewer) } }
        router.get("jobs/bulk") { request, _ in await page(request, back: "/jobs") { viewer in try await bulkPage(request, viewer) } }
        router.get("jobs/:id") { request, context in
            await page(request, back: "/jobs") { viewer in try await jobPage(try Self.jobID(context), viewer) }
        }
        router.get("workers") { request, _ in await page(request) { viewer in try await workersPage(viewer) } }
        router.get("schedules") { request, _ in await page(request) { viewer in try await schedulesPage(viewer) } }
        router.get("login") { request, _ in
            await page(request) { viewer in html("login", ["readOnly": viewer.readOnly], title: "Log in", viewer: viewer) }
        }
    }

    static func jobID(_ context: AdminContext) throws -> Int64 {
        let raw = context.parameters.get("id") ?? ""
        guard let id = Int64(raw), id > 0 else { throw DashboardError.badRequest("'\(raw)' is not a job id: use a number such as /jobs/42") }
        return id
    }

    // MARK: Overview

    struct CountCell {
        var state: String
        var count: Int
        var link: Bool
    }

    struct QueueRow {
        var name, nameQuery, namePath: String
        var paused: Bool
        var limits: String
        var counts: [CountCell]
        var oldest: String
        var csrf: String
    }

    struct OverviewModel {
        var workersLive: Int
        var at: String
        var refresh: Int
        var charts: [[String: String]]
        var states: [String]
        var queues: [QueueRow]
        var totals: [Int]
        var completedLastHour: Int
    }

    /// The overview's data: exact counts per queue of every state but `completed` (each read through its state's
    /// index) and the oldest queued job's wait, as of `at` (`CountsCache`); settings and the last hour's activity,
    /// read now.
    struct OverviewData {
        var at: Micros
        var counts: [String: [JobState: Int]]
        var oldestQueued: [String: Double]
        var settings: [QueueSettings]
        var activity: [ActivityMinute]
        var since: Micros
        var liveWorkers: Int

        /// Attempts completed in the last hour.
        var completedLastHour: Int { activity.reduce(0) { $0 + $1.completed } }

        /// Every queue with jobs not completed or settings, by name.
        var queueNames: [String] { Set(counts.keys).union(settings.map(\.name)).sorted() }
    }

    func overviewData() async throws -> OverviewData {
        let counts = try await countsCache.counts { [store, clock] in
            CountsCache.Counts(at: clock.now(), counts: try await store.countsExceptCompleted(), oldestQueued: try await store.oldestQueuedAge())
        }
        let now = clock.now()
        let since = (now / 60_000_000 - Int64(ActivityChart.minutes - 1)) * 60_000_000
        return OverviewData(
            at: counts.at, counts: counts.counts, oldestQueued: counts.oldestQueued, settings: try await store.queueSettings(),
            activity: try await store.activity(since: since), since: since, liveWorkers: try await store.liveWorkerCount())
    }

    func overviewPage(_ viewer: Viewer) async throws -> Response {
        let data = try await overviewData()
        let settingsByName = Dictionary(data.settings.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var totals = [Int](repeating: 0, count: Self.stateColumns.count)
        let rows = data.queueNames.map { name -> QueueRow in
            let counts = data.counts[name] ?? [:]
            let settings = settingsByName[name] ?? QueueSettings(name: name)
            let cells = Self.stateColumns.enumerated().map { index, state -> CountCell in
                let count = counts[state] ?? 0
                totals[index] += count
                return CountCell(state: state.rawValue, count: count, link: count > 0)
            }
            return QueueRow(
                name: name, nameQuery: JobQuery.encode([("", name)]).dropFirst().description, namePath: DashboardFormat.pathSegment(name),
                paused: settings.pausedAt != nil, limits: settings.limitsDescription, counts: cells,
                oldest: data.oldestQueued[name].map(DashboardFormat.age) ?? "-", csrf: viewer.csrf)
        }
        let charts = ActivityChart.charts(data.activity, since: data.since).map { ["svg": $0.svg] }
        let model = OverviewModel(
            workersLive: data.liveWorkers, at: DashboardFormat.time(data.at), refresh: 5, charts: charts,
            states: Self.stateColumns.map(\.rawValue), queues: rows, totals: totals, completedLastHour: data.completedLastHour)
        return html("overview", model, title: "Overview", viewer: viewer, nav: Nav(overview: true), refresh: 5)
    }

    // MARK: Jobs

    struct JobRow {
        var id: Int64
        var handler, queue, state: String
        var attempts: String
        var created, updated, error: String
    }

    struct StateOption {
        var value: String
        var selected: Bool
    }

    struct JobsModel {
        var query: JobQuery
        var stateOptions: [StateOption]
        var oldestFirst: Bool
        var hidePayloads: Bool
        var selects: Bool
        var queryString: String
        var rows: [JobRow]
        var nextLink: String?
        var searchScan = JobQuery.searchScan
    }

    func jobsPage(_ request: Request, _ viewer: Viewer) async throws -> Response {
        let query = try JobQuery(request.queryValues, hidePayloads: settings.hidePayloads)
        let page = try await store.jobPage(query.filter)
        let rows = page.jobs.map { job in
            JobRow(
                id: job.id, handler: job.handler, queue: job.queue, state: job.state.rawValue, attempts: "\(job.attempts)/\(job.maxAttempts)",
                created: DashboardFormat.time(job.createdAt), updated: DashboardFormat.time(job.updatedAt),
                error: settings.hidePayloads ? "" : DashboardFormat.snippet(job.lastError))
        }
        let model = JobsModel(
            query: query, stateOptions: JobState.allCases.map { StateOption(value: $0.rawValue, selected: $0 == query.state) },
            oldestFirst: !query.newestFirst, hidePayloads: settings.hidePayloads, selects: query.selects, queryString: query.queryString(),
            rows: rows, nextLink: page.next.map { "/jobs?" + query.queryString([("after", String($0))]) })
        return html("jobs", model, title: "Jobs", viewer: viewer, nav: Nav(jobs: true))
    }

    // MARK: One job

    struct Field {
        var name, value: String
    }

    struct EventRow {
        var at, from, to: String
        var attempt: Int
        var by, reason: String
    }

    struct StepRow {
        var name: String
        var attempt: Int
        var text: String
    }

    struct JobModel {
        var id: Int64
        var state, handler, queue: String
        var canRetry, canCancel: Bool
        var csrf: String
        var fields: [Field]
        var payload, checkpoint: String
        var hasSteps: Bool
        var steps: [StepRow]
        var events: [EventRow]
    }

    func jobPage(_ id: Int64, _ viewer: Viewer) async throws -> Response {
        let job = redacted(try await store.job(id))
        let events = try await store.events(job: id).map(redacted)
        let steps = try await store.steps(job: id).map(redacted)
        var fields = [
            Field(name: "attempts", value: "\(job.attempts) of \(job.maxAttempts) (crashes under it: \(job.crashes))"),
            Field(name: "priority", value: String(job.priority)),
            Field(name: "created", value: DashboardFormat.time(job.createdAt)),
            Field(name: "run at", value: DashboardFormat.time(job.runAt)),
            Field(name: "updated", value: DashboardFormat.time(job.updatedAt)),
            Field(name: "finished", value: DashboardFormat.time(job.finishedAt)),
            Field(name: "worker", value: job.workerID ?? "-"),
            Field(name: "plugin", value: job.plugin.map { "\($0.name) \($0.version) (sha256 \($0.sha256))" } ?? "-"),
            Field(name: "last error", value: job.lastError ?? "-"),
        ]
        if let key = job.uniqueKey { fields.append(Field(name: "unique key", value: key)) }
        if let key = job.concurrencyKey { fields.append(Field(name: "concurrency key", value: key)) }
        if let timeout = job.effectiveTimeout {
            fields.append(Field(name: "timeout", value: "\(Double(timeout.journalMilliseconds) / 1000) s\(job.timeout == nil ? " (the queue's)" : "")"))
        }
        if let schedule = job.schedule { fields.append(Field(name: "schedule", value: schedule)) }
        if let at = job.cancelRequestedAt { fields.append(Field(name: "cancel requested", value: DashboardFormat.time(at))) }
        let model = JobModel(
            id: job.id, state: job.state.rawValue, handler: job.handler, queue: job.queue,
            canRetry: JobState.retryable.contains(job.state), canCancel: !job.state.isFinished && job.cancelRequestedAt == nil,
            csrf: viewer.csrf, fields: fields, payload: Self.pretty(job.payload),
            checkpoint: job.checkpoint.map { String(data: $0, encoding: .utf8) ?? "\($0.count) bytes (binary)" } ?? (settings.hidePayloads ? DashboardFormat.hidden : "none"),
            hasSteps: !steps.isEmpty,
            steps: steps.map { StepRow(name: $0.name, attempt: $0.attempt, text: Self.stepText($0)) },
            events: events.map {
                EventRow(
                    at: DashboardFormat.time($0.at), from: $0.from?.rawValue ?? "(new)", to: $0.to.rawValue, attempt: $0.attempt,
                    by: "\($0.workerID ?? "-") (pid \($0.pid))", reason: $0.reason)
            })
        return html("job", model, title: "Job \(id)", viewer: viewer, nav: Nav(jobs: true), refresh: job.state.isFinished ? nil : 5)
    }

    static func stepText(_ step: StepRecord) -> String {
        if let completedAt = step.completedAt { return "completed \(DashboardFormat.time(completedAt))" }
        if let failedAt = step.failedAt { return "failed \(DashboardFormat.time(failedAt)): \(step.error ?? "-")" }
        return "begun \(DashboardFormat.time(step.startedAt)), not completed"
    }

    /// JSON text indented for reading (as stored when it cannot be parsed).
    static func pretty(_ json: String) -> String {
        guard let data = json.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
              let out = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]),
              let text = String(data: out, encoding: .utf8) else { return json }
        return text
    }

    // MARK: Workers and schedules

    struct WorkerRow {
        var id, status, host: String
        var pid: Int32
        var version, started, heartbeat: String
        var running: Int
        var stopped: String
    }

    func workersPage(_ viewer: Viewer) async throws -> Response {
        let now = clock.now()
        let rows = try await store.workerSummaries(limit: 100).map { summary in
            let r = summary.record
            let status = summary.live ? "live" : r.stoppedAt == nil ? "dead" : "stopped"
            return WorkerRow(
                id: r.registration.id, status: status, host: r.registration.host, pid: r.registration.pid, version: r.registration.version,
                started: DashboardFormat.time(r.startedAt),
                heartbeat: "\(DashboardFormat.time(r.heartbeatAt)) (\(DashboardFormat.age(Double(now - r.heartbeatAt) / 1_000_000)) ago)",
                running: summary.running,
                stopped: r.stoppedAt.map { "\(DashboardFormat.time($0)): \(r.stopReason ?? "")" } ?? "")
        }
        return html("workers", ["rows": rows, "refresh": 5] as [String: Any], title: "Workers", viewer: viewer, nav: Nav(workers: true), refresh: 5)
    }

    struct ScheduleRow {
        var name, nameQuery, namePath, cron, timeZone, handler, queue: String
        var paused: Bool
        var next, last: String
        var fired, skipped, missed, manual: Int
        var csrf: String
    }

    func schedulesPage(_ viewer: Viewer) async throws -> Response {
        var rows: [ScheduleRow] = []
        for schedule in try await store.schedules() {
            let totals = (try? await store.schedule(named: schedule.name, recent: 0).totals) ?? [:]
            let d = schedule.definition
            rows.append(ScheduleRow(
                name: d.name, nameQuery: JobQuery.encode([("", d.name)]).dropFirst().description, namePath: DashboardFormat.pathSegment(d.name),
                cron: d.cron, timeZone: d.timeZone, handler: d.handler, queue: d.queue, paused: schedule.pausedAt != nil,
                next: schedule.pausedAt != nil ? "paused" : DashboardFormat.time(schedule.nextTick), last: DashboardFormat.time(schedule.lastTick),
                fired: totals[.fired] ?? 0, skipped: totals[.skipped] ?? 0, missed: totals[.missed] ?? 0, manual: totals[.manual] ?? 0,
                csrf: viewer.csrf))
        }
        return html("schedules", ["rows": rows], title: "Schedules", viewer: viewer, nav: Nav(schedules: true), refresh: 10)
    }

    // MARK: Redaction (--admin-hide-payloads)

    func redacted(_ job: Job) -> Job {
        guard settings.hidePayloads else { return job }
        var job = job
        job.payload = "null"
        job.lastError = job.lastError.map { _ in DashboardFormat.hidden }
        job.checkpoint = nil
        return job
    }

    func redacted(_ event: JobEvent) -> JobEvent {
        guard settings.hidePayloads, event.to == .retrying || event.to == .dead else { return event }
        var event = event
        event.reason = DashboardFormat.hidden
        return event
    }

    func redacted(_ step: StepRecord) -> StepRecord {
        guard settings.hidePayloads else { return step }
        var step = step
        step.error = step.error.map { _ in DashboardFormat.hidden }
        step.result = step.result.map { _ in Data() }
        return step
    }
}
