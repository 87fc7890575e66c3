import Foundation
import NIOSSL
import PostgresNIO
import WorkerStore

/// PostgreSQL's and postgres-nio's errors as `JournalError`s: one line naming the server and the fix, with the exit
/// class the contract gives each (unreachable or lost: 75; authentication or TLS refused: 78; no such database: 66).
enum PostgresErrors {
    static func map(_ error: any Error, _ location: PostgresLocation) -> JournalError {
        if let error = error as? JournalError { return error }
        if let transaction = error as? PostgresTransactionError {
            let inner = transaction.closureError ?? transaction.commitError ?? transaction.beginError ?? transaction.rollbackError
            return inner.map { map($0, location) } ?? JournalError(.internalError, "a transaction on \(location.endpoint) failed without a cause")
        }
        let server = location.endpoint
        if let error = error as? PSQLError {
            switch error.code {
            case .server:
                return mapServer(error, location)
            case .sslUnsupported:
                return JournalError(.misconfigured, "the PostgreSQL server at \(server) does not offer TLS, which sslmode=\(location.tls.rawValue) requires: enable ssl on the server, or use sslmode=disable on a trusted network")
            case .authMechanismRequiresPassword:
                return JournalError(.misconfigured, "the PostgreSQL server at \(server) asks a password of user \(location.user): put it in the URL or in $PGPASSWORD")
            case .unsupportedAuthMechanism, .saslError:
                return JournalError(.misconfigured, "authentication of user \(location.user) at \(server) failed (\(error.code)): check the user, the password and the server's pg_hba.conf")
            case .connectionError:
                if let ssl = error.underlying as? NIOSSLError {
                    return JournalError(.misconfigured, "TLS with the PostgreSQL server at \(server) failed (\(ssl)): check the server's certificate, or use sslmode=require, which does not verify it")
                }
                if let ssl = error.underlying as? BoringSSLError {
                    return JournalError(.misconfigured, "TLS with the PostgreSQL server at \(server) failed (\(ssl)): check the server's certificate, or use sslmode=require, which does not verify it")
                }
                let cause = error.underlying.map { "\($0)" } ?? "no answer"
                return JournalError(.unavailable, "cannot reach the PostgreSQL server at \(server) (\(cause)): check that it runs and that host and port are right, then try again")
            case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed:
                return JournalError(.unavailable, "lost the connection to the PostgreSQL server at \(server) (\(error.code)); anything not committed was rolled back: try again")
            case .queryCancelled:
                return JournalError(.unavailable, "a statement on the PostgreSQL server at \(server) was cancelled: try again")
            default:
                return JournalError(.internalError, "PostgreSQL at \(server): \(error.code)")
            }
        }
        if let error = error as? PostgresDecodingError {
            return JournalError(.corrupt, "a row from \(server) has an unexpected type in column \(error.columnName) (\(error.code)): was the schema changed outside the worker?")
        }
        let text = "\(error)"
        if text.contains("CircuitBreaker") || text.contains("circuitBreaker") {
            return JournalError(.unavailable, "cannot reach the PostgreSQL server at \(server) (no connection could be made): check that it runs, then try again")
        }
        return JournalError(.internalError, "PostgreSQL at \(server): \(text)")
    }

    private static func mapServer(_ error: PSQLError, _ location: PostgresLocation) -> JournalError {
        let server = location.endpoint
        let state = error.serverInfo?[.sqlState] ?? ""
        let message = (error.serverInfo?[.message] ?? "no message").replacingOccurrences(of: "\n", with: " ")
        switch state {
        case "28P01", "28000":
            return JournalError(.misconfigured, "the PostgreSQL server at \(server) refused user \(location.user): \(message): check the user and password (URL or $PGPASSWORD) and pg_hba.conf")
        case "3D000":
            return JournalError(.databaseMissing, "the PostgreSQL server at \(server) has no database \(location.database): create it (createdb \(location.database)) or fix the URL")
        case "42501":
            return JournalError(.misconfigured, "PostgreSQL at \(server) denied user \(location.user): \(message): grant the role what docs/deploy/postgresql.md lists")
        case "53100":
            return JournalError(.diskFull, "the PostgreSQL server at \(server) is out of disk space: \(message): free space on the server")
        case "25006":
            return JournalError(.unavailable, "the PostgreSQL server at \(server) is read-only (a standby, or a failover in progress): \(message): point the URL at the primary, or try again")
        case "42P01", "42703":
            return JournalError(.corrupt, "the journal's schema at \(server)/\(location.database) is not what this worker wrote: \(message): was it changed outside the worker?")
        case "23505":
            return JournalError(.uniqueKeyConflict, "PostgreSQL at \(server): \(message)")
        case "55P03":  // lock_timeout: the busy timeout, as on SQLite
            return JournalError(.busy, "a lock at \(server) stayed held by another process past the busy timeout (\(message)): try again, or raise --busy-timeout")
        case "22P02", "22023":
            return JournalError(.invalidArgument, "PostgreSQL at \(server) refused a value: \(message)")
        default:
            // Class 08 (connection), 57P01-57P03 (shutdown, crash, starting up), 53300 (too many connections),
            // 40001/40P01 (serialization, deadlock), 57014 (statement cancelled or timed out): worth trying again.
            if state.hasPrefix("08") || state.hasPrefix("57P") || state == "53300" || state.hasPrefix("40") || state == "57014" {
                return JournalError(.unavailable, "the PostgreSQL server at \(server) cannot serve now (\(state): \(message)): try again")
            }
            return JournalError(.internalError, "PostgreSQL at \(server) failed (\(state)): \(message)")
        }
    }
}
