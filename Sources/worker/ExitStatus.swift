import Journal
import WorkerStore
import WorkerRuntime

/// The contract's exit codes (sysexits.h).
enum ExitStatus: Int32 {
    case success = 0
    case usage = 64
    case dataError = 65
    case noInput = 66
    case software = 70
    case ioError = 74
    case tempFailure = 75
    case config = 78

    /// The exit status for a journal error.
    init(_ error: JournalError) {
        switch error.code {
        case .invalidArgument: self = .usage
        case .invalidPayload, .payloadTooLarge, .jobNotFound, .illegalTransition, .uniqueKeyConflict: self = .dataError
        case .databaseMissing: self = .noInput
        case .readOnly, .notADatabase, .corrupt, .diskFull, .io: self = .ioError
        case .busy, .notHeld, .workerNotRegistered: self = .tempFailure
        case .schemaTooNew, .notAJournal: self = .config
        default: self = .software
        }
    }
}

extension ExitStatus {
    /// The exit status for a worker runtime error.
    init(_ error: WorkerError) {
        switch error.kind {
        case .io: self = .ioError
        case .internalError: self = .software
        case .config: self = .config
        case .temporary: self = .tempFailure
        }
    }
}

/// An error of the command line itself: a one-line message and the exit status it ends with.
struct CLIError: Error {
    let status: ExitStatus
    let message: String

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }
}
