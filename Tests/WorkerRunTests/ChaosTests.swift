import Foundation
import Testing
import WorkerTestKit

/// A short run of the chaos runner (docs/reliability.md has the long one): random SIGKILL, SIGTERM and
/// SIGTERM twice under mixed load on two workers, then the invariants.
@Suite struct ChaosTests {
    @Test(arguments: StoreKind.allCases)
    func randomKillsUnderMixedLoadLoseNothing(store: StoreKind) async throws {
        let directory = try TemporaryDirectory("chaos")
        defer { directory.remove() }
        let db = store == .postgres ? ["--db", try await store.newDatabase(in: directory)] : []
        let result = try await runProcess(
            ProductBinary.path("chaos"), ["--cycles", "10", "--workers", "2", "--jobs-per-cycle", "10", "--dir", directory.path] + db)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("lost: 0"), "\(result.stdout)")
        #expect(result.stdout.contains("completed twice: 0"), "\(result.stdout)")
        #expect(result.stdout.contains("kills: "), "\(result.stdout)")
    }
}
