import Foundation
import HTTPTypes
import Hummingbird
import Logging
import WorkerStore

/// The operator's actions, from a form (session cookie and CSRF token) or the API (bearer token), and the login.
extension Dashboard {
    /// One change an operator can make.
    enum Action {
        case retry(Int64), cancel(Int64), pause(String), resume(String), runSchedule(String)
    }

    /// What an action did: for the API's answer, the log and the page a form goes back to.
    struct ActionResult {
        var json: JSON
        var summary: String
        /// The page a form action returns to, with its `done` notice.
        var back: String
    }

    /// Carries out `action` in one store call whose journal event names `origin`; logs it.
    func perform(_ action: Action, origin: ChangeOrigin) async throws -> ActionResult {
        let result: ActionResult
        switch action {
        case .retry(let id):
            let job = redacted(try await store.retry(job: id, by: origin))
            result = ActionResult(json: .object([("job", job.json)]), summary: "job \(id) retried", back: "/jobs/\(id)?done=retried")
        case .cancel(let id):
            switch try await store.cancel(job: id, by: origin) {
            case .cancelled(let job):
                result = ActionResult(json: .object([("result", .string("cancelled")), ("job", redacted(job).json)]), summary: "job \(id) cancelled", back: "/jobs/\(id)?done=cancelled")
            case .requested(let job):
                result = ActionResult(
                    json: .object([("result", .string("cancel_requested")), ("job", redacted(job).json)]),
                    summary: "job \(id) running: cancellation requested", back: "/jobs/\(id)?done=cancel-requested")
            case .alreadyCancelled(let job):
                result = ActionResult(json: .object([("result", .string("already_cancelled")), ("job", redacted(job).json)]), summary: "job \(id) was already cancelled", back: "/jobs/\(id)?done=cancelled")
            }
        case .pause(let queue):
            let settings = try await store.edit(queue: queue, .pause, by: origin)
            result = ActionResult(json: QueueJSON.json(settings), summary: "queue \(queue) paused", back: "/?done=paused")
        case .resume(let queue):
            let settings = try await store.edit(queue: queue, .resume, by: origin)
            result = ActionResult(json: QueueJSON.json(settings), summary: "queue \(queue) resumed", back: "/?done=resumed")
        case .runSchedule(let name):
            let job = redacted(try await store.runSchedule(name, by: origin))
            result = ActionResult(json: .object([("job", job.json)]), summary: "schedule \(name) run now: job \(job.id)", back: "/schedules?done=ran")
        }
        countsCache.invalidate()
        logger.notice("dashboard: \(result.summary) by \(origin)")
        return result
    }

    /// The fixed notices a page shows after a form action redirected to it (`?done=`).
    static let notices: [String: String] = [
        "retried": "Retried: the job is queued to run now.",
        "cancelled": "Cancelled.",
        "cancel-requested": "The job is running: its worker was asked to stop it.",
        "paused": "Queue paused: no worker claims its jobs until it is resumed.",
        "resumed": "Queue resumed.",
        "ran": "Schedule run: a job was enqueued now.",
    ]

    // MARK: Authorization (checked before the gate: a refused client never takes a turn from the others)

    /// The page of a refused form action.
    func refusal(_ error: any Error, _ request: Request, back: String) -> Response {
        messagePage(error as? DashboardError ?? .forbidden("refused"), viewer: viewer(request), back: back)
    }

    /// A form action's permission: a token must be configured (else 403), the browser logged in (else 401), the
    /// form's CSRF token that of its session, and the request from this dashboard's own pages (else 403).
    func authorizeForm(_ request: Request, _ fields: [String: String]) throws -> Viewer {
        let viewer = viewer(request)
        guard settings.token != nil else { throw Self.readOnly }
        guard let session = viewer.session else { throw DashboardError.unauthorized("log in with the dashboard's token to act") }
        guard DashboardSessions.matches(fields["csrf"] ?? "", session.csrf) else {
            throw DashboardError.forbidden("the form's CSRF token is missing or stale: reload the page and try again")
        }
        try Self.checkSameOrigin(request)
        return viewer
    }

    /// An API action's permission: a token must be configured (else 403), and `Authorization: Bearer TOKEN`
    /// carry it (else 401, with no detail).
    func authorizeAPI(_ request: Request) throws {
        guard let token = settings.token else { throw Self.readOnly }
        let header = request.headers[.authorization] ?? ""
        guard header.hasPrefix("Bearer "), DashboardSessions.matches(String(header.dropFirst(7)), token) else {
            throw DashboardError.unauthorized("unauthorized")
        }
    }

    static let readOnly = DashboardError.forbidden(
        "this dashboard is read-only: start the worker with --admin-token-file FILE to allow actions")

    /// Refuses a form posted from another site: its `Origin` (sent by browsers on POST) must name this host.
    static func checkSameOrigin(_ request: Request) throws {
        guard let origin = request.headers[.origin] else { return }
        let host = request.head.authority ?? ""
        guard origin == "http://\(host)" || origin == "https://\(host)" else {
            throw DashboardError.forbidden("a form from another site (\(origin)) is refused: use the dashboard's own pages")
        }
    }

    // MARK: Routes

    func registerActions(on router: Router<AdminContext>) {
        router.post("login") { request, context in await login(request, context) }
        router.post("logout") { request, context in
            let fields = formFields(await Self.body(request, context))
            if let session = viewer(request).session, DashboardSessions.matches(fields["csrf"] ?? "", session.csrf) {
                sessions.close(request.cookies[Self.cookieName]?.value)
            }
            return Self.seeOther("/", cookie: "\(Self.cookieName)=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict")
        }
        formAction(router, "jobs/:id/retry", back: "/jobs") { _, context in .retry(try Self.jobID(context)) }
        formAction(router, "jobs/:id/cancel", back: "/jobs") { _, context in .cancel(try Self.jobID(context)) }
        formAction(router, "queues/:name/pause", back: "/") { _, context in .pause(try Self.name(context)) }
        formAction(router, "queues/:name/resume", back: "/") { _, context in .resume(try Self.name(context)) }
        formAction(router, "schedules/:name/run", back: "/schedules") { _, context in .runSchedule(try Self.name(context)) }
        router.post("jobs/bulk") { request, context in
            let fields = formFields(await Self.body(request, context))
            let viewer: Viewer
            do { viewer = try authorizeForm(request, fields) } catch { return refusal(error, request, back: "/jobs") }
            return await page(request, back: "/jobs") { _ in try await bulkApply(fields, origin: Self.origin(context), viewer: viewer) }
        }

        apiAction(router, "api/jobs/:id/retry") { _, context in .retry(try Self.jobID(context)) }
        apiAction(router, "api/jobs/:id/cancel") { _, context in .cancel(try Self.jobID(context)) }
        apiAction(router, "api/queues/:name/pause") { _, context in .pause(try Self.name(context)) }
        apiAction(router, "api/queues/:name/resume") { _, context in .resume(try Self.name(context)) }
        apiAction(router, "api/schedules/:name/run") { _, context in .runSchedule(try Self.name(context)) }
        router.post("api/jobs/bulk") { request, context in
            do { try authorizeAPI(request) } catch { return Self.apiError(error as? DashboardError ?? .unauthorized("unauthorized")) }
            return await api(request) { try await bulkAPI(request.queryValues, origin: Self.origin(context)) }
        }
    }

    private func formAction(
        _ router: Router<AdminContext>, _ path: RouterPath, back: String,
        _ action: @escaping @Sendable (Request, AdminContext) throws -> Action
    ) {
        router.post(path) { request, context in
            let fields = formFields(await Self.body(request, context))
            do { _ = try authorizeForm(request, fields) } catch { return refusal(error, request, back: back) }
            return await page(request, back: back) { _ in
                Self.seeOther(try await perform(try action(request, context), origin: Self.origin(context)).back)
            }
        }
    }

    private func apiAction(
        _ router: Router<AdminContext>, _ path: RouterPath, _ action: @escaping @Sendable (Request, AdminContext) throws -> Action
    ) {
        router.post(path) { request, context in
            do { try authorizeAPI(request) } catch { return Self.apiError(error as? DashboardError ?? .unauthorized("unauthorized")) }
            return await api(request) { try await perform(try action(request, context), origin: Self.origin(context)).json }
        }
    }

    static func name(_ context: AdminContext) throws -> String {
        guard let name = context.parameters.get("name"), !name.isEmpty else { throw DashboardError.badRequest("a name is missing from the path") }
        return name.removingPercentEncoding ?? name
    }

    /// A form's body as text (empty when it is not text or too large).
    static func body(_ request: Request, _ context: AdminContext) async -> String {
        guard let buffer = try? await request.body.collect(upTo: context.maxUploadSize) else { return "" }
        return String(buffer: buffer)
    }

    /// `POST /login`: the right token opens a session (cookie: HttpOnly, SameSite=Strict, 12 h); a wrong one is 401
    /// with no detail.
    private func login(_ request: Request, _ context: AdminContext) async -> Response {
        let fields = formFields(await Self.body(request, context))
        let viewer = viewer(request)
        guard let token = settings.token else { return messagePage(Self.readOnly, viewer: viewer, back: "/") }
        do { try Self.checkSameOrigin(request) } catch let error as DashboardError {
            return messagePage(error, viewer: viewer, back: "/login")
        } catch {}
        guard DashboardSessions.matches(fields["token"] ?? "", token) else {
            logger.notice("dashboard: a login with a wrong token from client \(context.clientAddress)")
            return messagePage(.unauthorized("wrong token"), viewer: viewer, back: "/login")
        }
        let session = sessions.open()
        logger.notice("dashboard: login from client \(context.clientAddress)")
        let maxAge = Int(DashboardSessions.lifetime.components.seconds)
        return Self.seeOther("/", cookie: "\(Self.cookieName)=\(session.id); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict")
    }

    // MARK: Bulk

    static func bulkChange(_ raw: String?) throws -> BulkChange {
        guard let raw, let change = BulkChange(rawValue: raw) else {
            throw DashboardError.badRequest("action '\(raw ?? "")' is not a bulk action: use retry or cancel")
        }
        return change
    }

    static func bulkQuery(_ values: [String: String], hidePayloads: Bool) throws -> JobQuery {
        let query = try JobQuery(values, hidePayloads: hidePayloads)
        guard query.selects else {
            throw DashboardError.badRequest("a bulk action needs a filter: pass state, queue, handler, schedule or q")
        }
        return query
    }

    struct BulkModel {
        var verb, done, action, description: String
        var matched, accepted: Int
        var runningText: String?
        var canConfirm: Bool
        var skippedText: String
        var hidden: [Field]
        var queryString: String
        var csrf: String
    }

    /// `GET /jobs/bulk`: what the action would do to the filter's jobs, and a form to confirm it.
    func bulkPage(_ request: Request, _ viewer: Viewer) async throws -> Response {
        let values = request.queryValues
        let change = try Self.bulkChange(values["action"])
        let query = try Self.bulkQuery(values, hidePayloads: settings.hidePayloads)
        let plan = try await store.plan(change, query.filter)
        let model = BulkModel(
            verb: change == .retry ? "Retry" : "Cancel", done: change == .retry ? "retried" : "cancelled", action: change.rawValue,
            description: query.description, matched: plan.matched, accepted: plan.accepted.count,
            runningText: Self.runningText(plan.accepted.filter { $0.state == .running }.count), canConfirm: !plan.accepted.isEmpty, skippedText: BulkSkips.text(plan.skipped),
            hidden: query.terms.map { Field(name: $0.name, value: $0.value) }, queryString: query.queryString(), csrf: viewer.csrf)
        return html("bulk", model, title: "\(model.verb) in bulk", viewer: viewer, nav: Nav(jobs: true))
    }

    /// `POST /jobs/bulk`: plans again (jobs may have moved on since the confirmation) and carries it out.
    func bulkApply(_ fields: [String: String], origin: ChangeOrigin, viewer: Viewer) async throws -> Response {
        let (change, query, result) = try await bulk(fields, origin: origin)
        let done = change == .retry ? "Retried" : "Cancelled"
        let requested = change == .cancel && result.requested > 0 ? "; asked the workers of \(result.requested) running job(s) to stop them" : ""
        let text = "\(done) \(result.changed) job(s) of \(query.description)\(requested); \(BulkSkips.text(result.skipped))."
        let model = Message(heading: "\(done) in bulk", error: nil, text: text, loginLink: false, back: "/jobs?" + query.queryString())
        return html("message", model, title: "\(done) in bulk", viewer: viewer, nav: Nav(jobs: true))
    }

    /// `POST /api/jobs/bulk?action=retry|cancel&FILTER[&dry_run=1]`.
    func bulkAPI(_ values: [String: String], origin: ChangeOrigin) async throws -> JSON {
        if values["dry_run"] == "1" || values["dry_run"] == "true" {
            let change = try Self.bulkChange(values["action"])
            let query = try Self.bulkQuery(values, hidePayloads: settings.hidePayloads)
            let plan = try await store.plan(change, query.filter)
            return .object([
                ("matched", .int(Int64(plan.matched))), ("accepted", .int(Int64(plan.accepted.count))),
            ] + BulkSkips.json(plan.skipped))
        }
        let (change, _, result) = try await bulk(values, origin: origin)
        var members: [(String, JSON)] = [(change == .retry ? "retried" : "cancelled", .int(Int64(result.changed)))]
        if change == .cancel { members.append(("cancel_requested", .int(Int64(result.requested)))) }
        members += BulkSkips.json(result.skipped)
        return .object(members)
    }

    private func bulk(_ values: [String: String], origin: ChangeOrigin) async throws -> (BulkChange, JobQuery, BulkResult) {
        let change = try Self.bulkChange(values["action"])
        let query = try Self.bulkQuery(values, hidePayloads: settings.hidePayloads)
        let plan = try await store.plan(change, query.filter)
        let done = change == .retry ? "retried" : "cancelled"
        let result = try await store.apply(plan, reason: "\(done) by \(origin) in bulk (\(query.description))") { _ in }
        countsCache.invalidate()
        logger.notice("dashboard: \(done) \(result.changed) job(s) of \(query.description) in bulk by \(origin)")
        return (change, query, result)
    }

    static func runningText(_ running: Int) -> String? {
        running == 0 ? nil : "\(running) of them running: their workers are asked to stop them"
    }
}
