/// An error of the journal: an opaque code to branch on and a one-line message naming the problem and the fix.
public struct JournalError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem this is. Compare with the static members; new codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Sendable {
            case invalidArgument, invalidPayload, payloadTooLarge, jobNotFound, illegalTransition, notHeld,
                 uniqueKeyConflict, workerNotRegistered, databaseMissing, readOnly, notADatabase, notAJournal, corrupt,
                 diskFull, io, busy, schemaTooNew, internalError, unavailable, misconfigured, scheduleNotFound, scheduleExists
        }
        let base: Base

        /// A value given to the API is out of range or malformed (a usage error).
        public static let invalidArgument = Code(base: .invalidArgument)
        /// A payload is not valid JSON.
        public static let invalidPayload = Code(base: .invalidPayload)
        /// A payload is larger than the configured limit.
        public static let payloadTooLarge = Code(base: .payloadTooLarge)
        /// No job has that id.
        public static let jobNotFound = Code(base: .jobNotFound)
        /// The job's state does not allow the requested change.
        public static let illegalTransition = Code(base: .illegalTransition)
        /// The job is not running under the worker that asked (it was recovered or finished meanwhile).
        public static let notHeld = Code(base: .notHeld)
        /// Another unfinished job already holds the unique key.
        public static let uniqueKeyConflict = Code(base: .uniqueKeyConflict)
        /// The worker id is not registered as live.
        public static let workerNotRegistered = Code(base: .workerNotRegistered)
        /// The database's directory does not exist.
        public static let databaseMissing = Code(base: .databaseMissing)
        /// The database or its directory cannot be written.
        public static let readOnly = Code(base: .readOnly)
        /// The file is not a SQLite database.
        public static let notADatabase = Code(base: .notADatabase)
        /// The file is a SQLite database of another program (a configuration error: the wrong path).
        public static let notAJournal = Code(base: .notAJournal)
        /// SQLite found the database corrupt, or the journal's schema was changed outside the worker.
        public static let corrupt = Code(base: .corrupt)
        /// The disk (or the database's size limit) is full.
        public static let diskFull = Code(base: .diskFull)
        /// Another I/O failure reading or writing the database.
        public static let io = Code(base: .io)
        /// The database stayed locked by another process past the busy timeout.
        public static let busy = Code(base: .busy)
        /// The database was migrated by a newer worker than this binary.
        public static let schemaTooNew = Code(base: .schemaTooNew)
        /// A bug: something the journal did not expect.
        public static let internalError = Code(base: .internalError)
        /// The database server cannot be reached now, or the connection to it was lost mid-command (the server
        /// rolls back what was not committed). Worth trying again.
        public static let unavailable = Code(base: .unavailable)
        /// The database server refused this configuration: authentication, TLS, a role without the rights.
        public static let misconfigured = Code(base: .misconfigured)
        /// No schedule has that name.
        public static let scheduleNotFound = Code(base: .scheduleNotFound)
        /// A schedule with that name exists already.
        public static let scheduleExists = Code(base: .scheduleExists)

        public var description: String { base.rawValue }
    }

    /// What kind of problem this is.
    public let code: Code
    /// One line: the problem and the fix.
    public let message: String
    /// For an error in a batch enqueue, the position (from 0) of the job it is about.
    public var batchIndex: Int?

    /// An error with its code and one-line message.
    public init(_ code: Code, _ message: String, batchIndex: Int? = nil) {
        self.code = code
        self.message = message
        self.batchIndex = batchIndex
    }

    /// The message, prefixed with the job's place in its batch when there is one.
    public var description: String {
        batchIndex.map { "job \($0 + 1) of the batch: \(message)" } ?? message
    }
}

extension JournalError {
    /// How a process ends on this error, by kind (sysexits.h): the command line maps each class to its code.
    public enum ExitClass: Sendable {
        /// A value given is malformed or out of range (64).
        case usage
        /// The input data is wrong: a payload, a job id, a transition (65).
        case dataError
        /// Something named is not there (66).
        case noInput
        /// A bug (70).
        case software
        /// Storage cannot be read or written (74).
        case ioError
        /// Worth trying again later (75).
        case temporary
        /// A setting the operator must change (78).
        case config
    }

    /// How a process ends on this error.
    public var exitClass: ExitClass {
        switch code {
        case .invalidArgument: .usage
        case .invalidPayload, .payloadTooLarge, .jobNotFound, .illegalTransition, .uniqueKeyConflict, .scheduleExists: .dataError
        case .databaseMissing, .scheduleNotFound: .noInput
        case .readOnly, .notADatabase, .corrupt, .diskFull, .io: .ioError
        case .busy, .notHeld, .workerNotRegistered, .unavailable: .temporary
        case .schemaTooNew, .notAJournal, .misconfigured: .config
        default: .software
        }
    }
}
