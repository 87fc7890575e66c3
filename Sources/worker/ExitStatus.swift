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

    /// The exit status for a journal error: its class's code.
    init(_ error: JournalError) {
        switch error.exitClass {
        case .usage: self = .usage
        case .dataError: self = .dataError
        case .noInput: self = .noInput
        case .software: self = .software
        case .ioError: self = .ioError
        case .temporary: self = .tempFailure
        case .config: self = .config
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
