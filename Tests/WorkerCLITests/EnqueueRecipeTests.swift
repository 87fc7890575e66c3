import Foundation
import Testing
import WorkerTestKit

/// The recipe of docs/journal.md for enqueueing from another language, run as written from Python's sqlite3.
@Suite struct EnqueueRecipeTests {
    /// Runs the SQL block of docs/journal.md's "Enqueueing from another language" `times` times, with a unique key
    /// when `key` is given; `mutate` may rewrite the SQL first. Prints nothing; fails on any SQLite error.
    func runRecipe(_ fixture: CLIFixture, times: Int, key: String?, mutate: String = "sql") async throws {
        let docs = PluginFixtures.sourceRoot.appendingPathComponent("docs/journal.md").path
        let script = #"""
            import re, sqlite3, sys, time, os
            doc = open(sys.argv[1]).read()
            section = doc[doc.index("## Enqueueing from another language"):]
            sql = re.search(r"```sql\n(.*?)```", section, re.S).group(1)
            key = sys.argv[3]
            if key:
                sql = sql.replace("INSERT INTO jobs (handler,", "INSERT INTO jobs (unique_key, handler,")
                sql = sql.replace("VALUES ('sleep',", "VALUES ('" + key + "', 'sleep',")
                sql = re.sub(r"(INSERT INTO jobs .*?\n.*?\))(;)", r"\1 ON CONFLICT DO NOTHING\2", sql, count=1, flags=re.S)
            sql = eval(sys.argv[5])
            connection = sqlite3.connect(sys.argv[2], isolation_level=None, timeout=5)
            for _ in range(int(sys.argv[4])):
                now = int(time.time() * 1e6)
                for statement in [s.strip() for s in sql.split(";") if s.strip()]:
                    names = set(re.findall(r":(\w+)", statement))
                    connection.execute(statement, {k: v for k, v in {"now_us": now, "your_pid": os.getpid()}.items() if k in names})
            """#
        let result = try await runProcess("/usr/bin/env", ["python3", "-c", script, docs, fixture.db, key ?? "", "\(times)", mutate])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func theRecipeWithAUniqueKeyWritesOneCreationEventPerJobAndVerifies() async throws {
        let fixture = try CLIFixture()
        defer { fixture.remove() }
        try await fixture.ok(["migrate"])
        try await runRecipe(fixture, times: 3, key: "nightly")  // the second and third insert nothing
        try await fixture.ok(["enqueue", "noop"])
        try await fixture.ok(["enqueue", "noop"])
        try await runRecipe(fixture, times: 1, key: nil)
        try await fixture.ok(["journal", "verify"])
        let jobs = try #require(try await fixture.json(["jobs", "--json"]) as? [[String: Any]])
        #expect(jobs.count == 4)
        for job in jobs {
            let id = try #require((job["id"] as? NSNumber)?.int64Value)
            let detail = try #require(try await fixture.json(["job", "\(id)", "--json"]) as? [String: Any])
            let events = detail["events"] as? [[String: Any]] ?? []
            #expect(events.count == 1, "job \(id): \(events)")
        }
        let run = try await fixture.worker(["run", "--plugin", PluginFixtures.examples, "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        try await fixture.ok(["journal", "verify"])
    }

    @Test func verifyReportsAnEventWrittenForAJobThatDoesNotExist() async throws {
        let fixture = try CLIFixture()
        defer { fixture.remove() }
        // Job 1 with three events (enqueued, running, completed): event ids run ahead of job ids.
        try await fixture.ok(["enqueue", "noop"])
        let run = try await fixture.worker(["run", "--plugin", PluginFixtures.examples, "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        // The old recipe: the event names last_insert_rowid() whether or not the insert happened. Its first run
        // inserts job 2 and event 4; its second inserts no job, and an event for "job" 4.
        let oldRecipe = #"re.sub(r"SELECT id, .*? FROM jobs\n.*?;", "VALUES (last_insert_rowid(), :now_us, NULL, 'queued', 0, NULL, :your_pid, 'enqueued');", sql, flags=re.S)"#
        try await runRecipe(fixture, times: 2, key: "k", mutate: oldRecipe)
        let verify = try await fixture.worker(["journal", "verify"])
        #expect(verify.status == 65, "\(verify.stdout) \(verify.stderr)")
        #expect(verify.stdout.contains("name job 4, which does not exist"), "\(verify.stdout)")
    }
}
