import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Mustache
import NIOCore
import WorkerStore

/// The dashboard on the admin endpoint: server-rendered pages (`/`, `/jobs`, `/jobs/ID`, `/workers`,
/// `/schedules`), the same data as JSON under `/api/`, and the operator's actions (retry, cancel, bulk retry or
/// cancel of a filter, pause and resume of a queue, a schedule run now).
///
/// Safe by default: read-only (every action 403) unless a token is configured; then a form login sets a session
/// cookie (HttpOnly, SameSite=Strict) whose CSRF token every form must return, and the API takes
/// `Authorization: Bearer TOKEN` (401 when missing or wrong, with no detail). Every action is one store call whose
/// journal event names the dashboard and the client's address. Reads never take the write lock; an action holds it
/// for its own transaction only.
public struct Dashboard: Sendable {
    let store: any JobStore
    let settings: DashboardSettings
    let logger: Logger
    let sessions = DashboardSessions()
    let gate = DashboardGate()
    let countsCache = CountsCache()
    let library: MustacheLibrary
    let clock: WallClock

    /// A dashboard reading and acting through `store`.
    public init(store: any JobStore, settings: DashboardSettings, logger: Logger, clock: WallClock = .system) throws {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.clock = clock
        library = try DashboardTemplates.library()
    }

    /// How it treats clients, for the endpoint's first log line.
    var modeDescription: String {
        (settings.token == nil ? "read-only" : "actions with the token") + (settings.hidePayloads ? ", payloads hidden" : "")
    }

    /// The routes of the pages, the API and the actions.
    func register(on router: Router<AdminContext>) {
        registerPages(on: router)
        registerAPI(on: router)
        registerActions(on: router)
    }

    static let cookieName = "worker_session"

    /// Who is asking: whether actions are possible at all, and the session of a logged-in browser.
    struct Viewer {
        var readOnly: Bool
        var session: DashboardSessions.Session?
        /// What the last form action did, when the page is where it redirected (`?done=`).
        var notice: String?
        var loggedIn: Bool { session != nil }
        var csrf: String { session?.csrf ?? "" }
    }

    func viewer(_ request: Request) -> Viewer {
        Viewer(
            readOnly: settings.token == nil, session: sessions.session(request.cookies[Self.cookieName]?.value),
            notice: request.uri.queryParameters.get("done").flatMap { Self.notices[$0] })
    }

    // MARK: Rendering

    struct Nav {
        var overview = false, jobs = false, workers = false, schedules = false
    }

    struct Layout {
        var title: String
        var refresh: Int?
        var nav: Nav
        var readOnly: Bool
        var loggedIn: Bool
        var csrf: String
        var notice: String?
        var body: String
    }

    /// `template` rendered with `model`, inside the layout.
    func html(
        _ template: String, _ model: Any, title: String, viewer: Viewer, nav: Nav = Nav(), refresh: Int? = nil,
        notice: String? = nil, status: HTTPResponse.Status = .ok
    ) -> Response {
        let body = library.render(model, withTemplate: template) ?? ""
        let layout = Layout(
            title: title, refresh: refresh, nav: nav, readOnly: viewer.readOnly, loggedIn: viewer.loggedIn, csrf: viewer.csrf,
            notice: notice ?? viewer.notice, body: body)
        return Self.response(status, contentType: "text/html; charset=utf-8", library.render(layout, withTemplate: "layout") ?? "")
    }

    struct Message {
        var heading: String
        var error: String?
        var text: String?
        var loginLink: Bool
        var back: String
    }

    /// A page that says why a request was refused (or what an action did).
    func messagePage(_ error: DashboardError, viewer: Viewer, back: String) -> Response {
        let heading: String =
            switch error {
            case .unauthorized: "Log in first"
            case .forbidden: "Not allowed"
            case .notFound: "Not found"
            case .badRequest: "Bad request"
            case .conflict: "Not possible now"
            case .unavailable: "The journal cannot answer"
            }
        let model = Message(
            heading: heading, error: error.message, text: nil, loginLink: { if case .unauthorized = error { true } else { false } }(), back: back)
        var response = html("message", model, title: heading, viewer: viewer, status: error.status)
        if case .unauthorized = error, settings.token != nil, !viewer.loggedIn { response.headers[.location] = nil }
        return response
    }

    /// Runs a page's work inside the gate; a refusal or a journal error becomes its message page.
    func page(_ request: Request, back: String = "/", _ work: (Viewer) async throws -> Response) async -> Response {
        let viewer = viewer(request)
        return await gate.run(busy: { messagePage(Self.busy, viewer: viewer, back: back).retryingAfterASecond }) {
            await unguardedPage(request, viewer: viewer, back: back, work)
        }
    }

    /// The answer beyond the gate's bounds.
    static let busy = DashboardError.unavailable("the dashboard is answering as many requests as it may: try again in a second")

    private func unguardedPage(_ request: Request, viewer: Viewer, back: String, _ work: (Viewer) async throws -> Response) async -> Response {
        do {
            return try await work(viewer)
        } catch let error as DashboardError {
            return messagePage(error, viewer: viewer, back: back)
        } catch let error as JournalError {
            logDashboardError(error, request)
            return messagePage(DashboardError(error), viewer: viewer, back: back)
        } catch {
            logger.error("dashboard: \(request.method) \(request.uri.path) failed: \(error)")
            return messagePage(.unavailable("\(error)"), viewer: viewer, back: back)
        }
    }

    func logDashboardError(_ error: JournalError, _ request: Request) {
        if case .unavailable = DashboardError(error) {
            logger.warning("dashboard: \(request.method) \(request.uri.path): \(error)")
        }
    }

    /// Headers every dashboard answer carries: no caching of data, no framing, no scripts, forms only to itself.
    static func response(_ status: HTTPResponse.Status, contentType: String, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
        headers[.contentSecurityPolicy] =
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A redirect after a form action (303: the browser follows with GET).
    static func seeOther(_ location: String, cookie: String? = nil) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        if let cookie { headers[.setCookie] = cookie }
        return Response(status: .seeOther, headers: headers)
    }

    /// Whether a form's `back` target is a path of this dashboard (never another site).
    static func localPath(_ text: String?, default fallback: String) -> String {
        guard let text, text.hasPrefix("/"), !text.hasPrefix("//"), !text.contains("\\"),
              !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return fallback }
        return text
    }

    /// The client's address as the journal event names it.
    static func origin(_ context: AdminContext) -> ChangeOrigin { .dashboard(client: context.clientAddress) }
}

extension Response {
    /// The response with `Retry-After: 1`.
    var retryingAfterASecond: Response {
        var response = self
        response.headers[.retryAfter] = "1"
        return response
    }
}
