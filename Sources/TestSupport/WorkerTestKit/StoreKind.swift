import Foundation

/// The stores a test runs against: what the worker promises must hold on each. `WORKER_TEST_STORES` (a
/// comma-separated list, e.g. `sqlite`) narrows them for a machine without PostgreSQL; CI runs both.
public enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite, postgres

    public static var allCases: [StoreKind] {
        guard let only = ProcessInfo.processInfo.environment["WORKER_TEST_STORES"], !only.isEmpty else { return [.sqlite, .postgres] }
        return only.split(separator: ",").compactMap { StoreKind(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
    }

    public var description: String { rawValue }

    /// A fresh journal's `--db` value: a file in `directory`, or a new database on the test server.
    public func newDatabase(in directory: TemporaryDirectory) async throws -> String {
        switch self {
        case .sqlite: directory.file("worker.sqlite3")
        case .postgres: try await PostgresTestServer.shared.database("cli")
        }
    }
}
