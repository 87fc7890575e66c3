import Foundation
import Hummingbird
import WorkerStore

/// The job filter of `/jobs`, `/api/jobs` and the bulk actions, read from a query string:
/// `state`, `queue`, `handler`, `schedule`, `q` (text in the payload or last error), `after` (the keyset cursor),
/// `order` (`newest`, the default, or `oldest`) and `limit` (1-500, default 50).
struct JobQuery: Sendable, Equatable {
    var state: JobState?
    var queue: String?
    var handler: String?
    var schedule: String?
    var text: String?
    var after: Int64?
    var newestFirst = true
    var limit = 50

    static let maxLimit = 500
    /// The jobs a text search reads per page at most: a text no job holds costs a bounded read, and the page's
    /// next link searches on from where it stopped.
    static let searchScan = 20_000

    /// Reads the parameters; a malformed one is a `DashboardError.badRequest` naming it and the fix.
    init(_ parameters: [String: String], hidePayloads: Bool) throws {
        func value(_ name: String) -> String? {
            guard let raw = parameters[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        if let raw = value("state") {
            guard let state = JobState(rawValue: raw) else {
                throw DashboardError.badRequest("state '\(raw)' is not a state: use one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.state = state
        }
        queue = value("queue")
        handler = value("handler")
        schedule = value("schedule")
        text = value("q")
        if text != nil, hidePayloads {
            throw DashboardError.forbidden("text search is off: this dashboard hides payloads and errors (--admin-hide-payloads)")
        }
        if let raw = value("after") {
            guard let after = Int64(raw), after >= 0 else { throw DashboardError.badRequest("after '\(raw)' is not a job id: pass the id the previous page's next link gives") }
            self.after = after
        }
        switch value("order") {
        case nil, "newest": newestFirst = true
        case "oldest": newestFirst = false
        case let other?: throw DashboardError.badRequest("order '\(other)' is not an order: use newest or oldest")
        }
        if let raw = value("limit") {
            guard let limit = Int(raw), (1...Self.maxLimit).contains(limit) else {
                throw DashboardError.badRequest("limit '\(raw)' is out of range: pass 1 to \(Self.maxLimit)")
            }
            self.limit = limit
        }
    }

    /// The store's filter for a page.
    var filter: JobFilter {
        JobFilter(
            state: state, handler: handler, queue: queue, search: text, limit: limit, newestFirst: newestFirst, after: after, schedule: schedule,
            scanLimit: text == nil ? nil : Self.searchScan)
    }

    /// Whether anything selects jobs (bulk actions need a filter).
    var selects: Bool { state != nil || queue != nil || handler != nil || schedule != nil || text != nil }

    /// The filter's terms as query items (no cursor): for links and hidden form fields.
    var terms: [(name: String, value: String)] {
        var items: [(String, String)] = []
        if let state { items.append(("state", state.rawValue)) }
        if let queue { items.append(("queue", queue)) }
        if let handler { items.append(("handler", handler)) }
        if let schedule { items.append(("schedule", schedule)) }
        if let text { items.append(("q", text)) }
        if !newestFirst { items.append(("order", "oldest")) }
        if limit != 50 { items.append(("limit", String(limit))) }
        return items
    }

    /// A readable summary of the terms, e.g. `state=dead queue=mail`.
    var description: String {
        let terms = self.terms.filter { $0.name != "order" && $0.name != "limit" }
        return terms.isEmpty ? "all jobs" : terms.map { "\($0.name)=\($0.value)" }.joined(separator: " ")
    }

    /// A query string of the terms plus `extra` (percent-encoded).
    func queryString(_ extra: [(name: String, value: String)] = []) -> String {
        Self.encode(terms + extra)
    }

    static func encode(_ items: [(name: String, value: String)]) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return items.map { "\($0.name)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    }
}

extension Request {
    /// The query's parameters, the last of each name winning.
    var queryValues: [String: String] {
        var values: [String: String] = [:]
        for (name, value) in uri.queryParameters { values[String(name)] = String(value) }
        return values
    }
}

/// An `application/x-www-form-urlencoded` body's fields, the last of each name winning.
func formFields(_ body: String) -> [String: String] {
    var components = URLComponents()
    components.percentEncodedQuery = body.replacingOccurrences(of: "+", with: "%20")
    var fields: [String: String] = [:]
    for item in components.queryItems ?? [] { fields[item.name] = item.value ?? "" }
    return fields
}
