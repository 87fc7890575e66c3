import HTTPTypes
import WorkerStore

/// A refusal of the dashboard, with the HTTP status and a one-line message for the page or the API's `error`.
enum DashboardError: Error {
    case badRequest(String)
    case unauthorized(String)
    case forbidden(String)
    case notFound(String)
    case conflict(String)
    case unavailable(String)

    var status: HTTPResponse.Status {
        switch self {
        case .badRequest: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .unavailable: .serviceUnavailable
        }
    }

    var message: String {
        switch self {
        case .badRequest(let m), .unauthorized(let m), .forbidden(let m), .notFound(let m), .conflict(let m), .unavailable(let m): m
        }
    }

    /// The refusal a journal error means for a client: its own mistakes are 4xx, the journal's trouble 503.
    init(_ error: JournalError) {
        switch error.code {
        case .jobNotFound, .scheduleNotFound: self = .notFound(error.message)
        case .illegalTransition, .uniqueKeyConflict, .scheduleExists: self = .conflict(error.message)
        case .invalidArgument, .invalidPayload, .payloadTooLarge: self = .badRequest(error.message)
        default: self = .unavailable("the journal cannot answer now: \(error.message)")
        }
    }
}
