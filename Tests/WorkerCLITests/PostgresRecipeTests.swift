import Foundation
import Testing
import WorkerTestKit

/// docs/journal.md's plain-SQL enqueue for PostgreSQL, run as written: the job appears, a second run with the same
/// key adds nothing, and the journal stays sound.
@Suite struct PostgresRecipeTests {
    static let journalDoc = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/journal.md").path

    /// The first ```sql block after the heading "### On PostgreSQL".
    static func recipe() throws -> String {
        let text = try String(contentsOfFile: journalDoc, encoding: .utf8)
        let section = try #require(text.range(of: "### On PostgreSQL"))
        let start = try #require(text.range(of: "```sql\n", range: section.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        return String(text[start.upperBound..<end.lowerBound])
    }

    @Test func theDocumentedEnqueueWorksOnceAndAgainAddsNothing() async throws {
        let cli = try await CLIFixture.make(.postgres)
        defer { cli.remove() }
        try await cli.ok(["migrate"])
        let sql = try Self.recipe()
        let first = try await PostgresTestServer.shared.psql(cli.db, sql)
        #expect(first == "1|", "\(first)")
        #expect(try await PostgresTestServer.shared.psql(cli.db, sql).isEmpty, "a second job took the same key")
        let job = try #require(try await cli.json(["job", "1", "--json"]) as? [String: Any])
        #expect(job["state"] as? String == "queued" && job["handler"] as? String == "sleep")
        #expect(try await cli.worker(["journal", "verify"]).status == 0)
    }
}
