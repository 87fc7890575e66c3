import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import WorkerStore

/// The dashboard's data as JSON under `/api/`: what the pages show, for scripts. Jobs, events, steps, queues and
/// schedules have the shapes of `worker ... --json`.
extension Dashboard {
    func registerAPI(on router: Router<AdminContext>) {
        router.get("api/overview") { request, _ in await api(request) { try await overviewJSON() } }
        router.get("api/jobs") { request, _ in
            await api(request) {
                let query = try JobQuery(request.queryValues, hidePayloads: settings.hidePayloads)
                let page = try await store.jobPage(query.filter)
                return .object([("jobs", .array(page.jobs.map { redacted($0).json })), ("next", .optional(page.next))])
            }
        }
        router.get("api/jobs/:id") { request, context in
            await api(request) {
                let id = try Self.jobID(context)
                guard case .object(let members) = redacted(try await store.job(id)).json else { return .null }
                let steps = try await store.steps(job: id).map { redacted($0).json }
                let events = try await store.events(job: id).map { redacted($0).json }
                return .object(members + [("steps", .array(steps)), ("events", .array(events))])
            }
        }
        router.get("api/queues") { request, _ in await api(request) { .object([("queues", .array(try await store.queues().map(QueueJSON.json)))]) } }
        router.get("api/workers") { request, _ in
            await api(request) { .object([("workers", .array(try await store.workerSummaries(limit: 100).map(Self.json)))]) }
        }
        router.get("api/schedules") { request, _ in
            await api(request) {
                var schedules: [JSON] = []
                for schedule in try await store.schedules() {
                    var detail = try await store.schedule(named: schedule.name, recent: 0)
                    if settings.hidePayloads { detail.schedule.definition.payload = "null" }
                    schedules.append(ScheduleJSON.json(detail))
                }
                return .object([("schedules", .array(schedules))])
            }
        }
    }

    /// Runs an API call: its JSON with 200, or `{"error": "..."}` with the refusal's status (401 with
    /// `WWW-Authenticate: Bearer`).
    func api(_ request: Request, _ work: () async throws -> JSON) async -> Response {
        await gate.run(busy: { Self.apiError(Self.busy).retryingAfterASecond }) { await unguardedAPI(request, work) }
    }

    private func unguardedAPI(_ request: Request, _ work: () async throws -> JSON) async -> Response {
        do {
            return Self.json(.ok, try await work())
        } catch let error as DashboardError {
            return Self.apiError(error)
        } catch let error as JournalError {
            logDashboardError(error, request)
            return Self.apiError(DashboardError(error))
        } catch {
            logger.error("dashboard: \(request.method) \(request.uri.path) failed: \(error)")
            return Self.apiError(.unavailable("\(error)"))
        }
    }

    static func apiError(_ error: DashboardError) -> Response {
        var response = json(error.status, .object([("error", .string(error.message))]))
        if case .unauthorized = error { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSON) -> Response {
        response(status, contentType: "application/json; charset=utf-8", value.text + "\n")
    }

    func overviewJSON() async throws -> JSON {
        let data = try await overviewData()
        let settingsByName = Dictionary(data.settings.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let states = Self.stateColumns
        let queues: [JSON] = data.queueNames.map { name in
            let counts = data.counts[name] ?? [:]
            guard case .object(let members) = QueueJSON.json(settingsByName[name] ?? QueueSettings(name: name)) else { return .null }
            return .object(members + [
                ("counts", .object(states.map { ($0.rawValue, .int(Int64(counts[$0] ?? 0))) })),
                ("oldest_queued_seconds", data.oldestQueued[name].map { .raw(String(format: "%.3f", $0)) } ?? .null),
            ])
        }
        var totals: [JobState: Int] = [:]
        for counts in data.counts.values { for (state, count) in counts { totals[state, default: 0] += count } }
        return .object([
            ("at", .string(iso8601(data.at))),
            ("live_workers", .int(Int64(data.liveWorkers))),
            ("states", .object(states.map { ($0.rawValue, .int(Int64(totals[$0] ?? 0))) })),
            ("completed_last_hour", .int(Int64(data.completedLastHour))),
            ("queues", .array(queues)),
            ("activity", .array(data.activity.map {
                .object([
                    ("minute", .string(iso8601($0.minute))), ("completed", .int(Int64($0.completed))), ("failed", .int(Int64($0.failed))),
                    ("interrupted", .int(Int64($0.interrupted))),
                ])
            })),
        ])
    }

    static func json(_ summary: WorkerSummary) -> JSON {
        let r = summary.record
        return .object([
            ("id", .string(r.registration.id)), ("live", .bool(summary.live)), ("host", .string(r.registration.host)),
            ("pid", .int(Int64(r.registration.pid))), ("version", .string(r.registration.version)),
            ("started_at", .string(iso8601(r.startedAt))), ("heartbeat_at", .string(iso8601(r.heartbeatAt))),
            ("stopped_at", .optional(r.stoppedAt.map(iso8601))), ("stop_reason", .optional(r.stopReason)),
            ("running", .int(Int64(summary.running))), ("handlers", .array(r.registration.handlers.map(JSON.string))),
        ])
    }
}
