import Foundation
import Testing
import WorkerTestKit

/// A directory with a journal (a SQLite file in it, or a database of its own on the test PostgreSQL server), and a
/// way to run the real `worker` binary against it.
struct CLIFixture {
    let directory: TemporaryDirectory
    /// The `--db` value.
    let db: String

    /// A fixture on a SQLite file.
    init() throws {
        directory = try TemporaryDirectory("cli")
        db = directory.file("worker.sqlite3")
    }

    private init(directory: TemporaryDirectory, db: String) {
        self.directory = directory
        self.db = db
    }

    /// A fixture on a fresh journal of `kind`.
    static func make(_ kind: StoreKind) async throws -> CLIFixture {
        let directory = try TemporaryDirectory("cli")
        return CLIFixture(directory: directory, db: try await kind.newDatabase(in: directory))
    }

    /// Runs `worker ARGS --db DB` (unless `withDB` is false).
    @discardableResult
    func worker(_ arguments: [String], withDB: Bool = true, stdin: String? = nil, environment: [String: String] = [:]) async throws -> ProcessResult {
        try await runProcess(
            ProductBinary.path("worker"), arguments + (withDB ? ["--db", db] : []), environment: environment, stdin: stdin,
            currentDirectory: directory.path)
    }

    /// Runs `worker ARGS` and returns its trimmed standard output, failing the test on a non-zero exit.
    @discardableResult
    func ok(_ arguments: [String], stdin: String? = nil) async throws -> String {
        let result = try await worker(arguments, stdin: stdin)
        #expect(result.status == 0, "worker \(arguments) exited \(result.status): \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Parses JSON printed by `worker ARGS`.
    func json(_ arguments: [String]) async throws -> Any {
        try JSONSerialization.jsonObject(with: Data(await ok(arguments).utf8), options: [.fragmentsAllowed])
    }

    func remove() { directory.remove() }
}

/// Expects a failed run to have the exit code, exactly one line on stderr mentioning `mentioning`, nothing on stdout.
func expectFailure(_ result: ProcessResult, status: Int32, mentioning: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == status, "exit \(result.status), stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stderrLines.count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stderr.hasPrefix("worker: error: "), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stderr.contains(mentioning), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, "stdout: \(result.stdout)", sourceLocation: sourceLocation)
}

/// Whether this process may create mount namespaces and mount tmpfs (root on Linux): needed to make a
/// read-only or full filesystem for real.
@Sendable func canMount() async -> Bool {
    guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return false }
    return (try? await runProcess("/usr/bin/unshare", ["-m", "/bin/sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"]).status) == 0
}

/// Runs a shell script in a private mount namespace: whatever it mounts disappears with it.
func inMountNamespace(_ script: String) async throws -> ProcessResult {
    try await runProcess("/usr/bin/unshare", ["-m", "/bin/sh", "-c", script])
}
