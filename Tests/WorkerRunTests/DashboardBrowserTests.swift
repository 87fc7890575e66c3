import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// The dashboard in a real browser: Tests/Browser/dashboard_e2e.py drives headless Debian chromium through
/// WebDriver against the built `worker` (read only, then with a token: see the script's header); this test runs it,
/// then checks in the journal what the browser did.
@Suite struct DashboardBrowserTests {
    /// The browser stack the script needs; scripts/install-deps installs it (CI runs that first).
    static let tools = ["/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/python3"]

    /// Why the browser test cannot run here, or nil when it can.
    static func missingTools() async throws -> String? {
        var missing = tools.filter { !FileManager.default.isExecutableFile(atPath: $0) }
        if !missing.contains("/usr/bin/python3"),
           try await runProcess("/usr/bin/python3", ["-c", "import selenium"]).status != 0 {
            missing.append("python3-selenium")
        }
        return missing.isEmpty ? nil : missing.joined(separator: ", ")
    }

    @Test func anOperatorRetriesADeadJobInTheBrowserOnlyWithTheToken() async throws {
        if ProcessInfo.processInfo.environment["WORKER_SKIP_BROWSER_TESTS"] == "1" { return }
        if let missing = try await Self.missingTools() {
            Issue.record("the dashboard's browser test needs \(missing): run scripts/install-deps (CI does), or set WORKER_SKIP_BROWSER_TESTS=1 to skip it")
            return
        }
        let directory = try TemporaryDirectory("browser")
        defer { directory.remove() }
        let script = PluginFixtures.sourceRoot.appendingPathComponent("Tests/Browser/dashboard_e2e.py").path
        let result = try await runProcess("/usr/bin/python3", [
            script, "--worker", ProductBinary.path("worker"), "--plugin", PluginFixtures.examples, "--dir", directory.path,
        ])
        let output = result.stdout + result.stderr
        try #require(result.status == 0, "dashboard_e2e.py exited \(result.status):\n\(output)")
        for step in [
            "PASS: /jobs filtered to state=dead lists job",
            "PASS: without --admin-token-file (read only): the page refuses the retry",
            "PASS: read only: the API refuses the retry with 403",
            "PASS: with a token file, not logged in: the page refuses the retry",
            "PASS: with a token file: the API refuses the retry with 401",
            "PASS: logged in with the token at /login",
            "PASS: a login with a wrong token is refused",
            "PASS: logged in, the overview's button pauses the default queue",
            "PASS: logged in, the retry is taken; after the queue's resume the page shows the job queued -> ",
            "PASS: the retried job did its work once",
        ] {
            #expect(output.contains(step), "missing \(step) in:\n\(output)")
        }

        // What the browser did, as the journal has it: one retry (the refused ones left nothing), made by the
        // dashboard for a client on the loopback, and the job completed once.
        let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("job ") })
        let id = try #require(Int64(line.dropFirst("job ".count)))
        let journal = try Journal(path: directory.file("worker.sqlite3"))
        #expect(try await journal.job(id).state == .completed)
        let events = try await journal.events(job: id)
        let retries = events.filter { $0.from == .dead && $0.to == .queued }
        #expect(retries.count == 1, "\(events.map(\.reason))")
        #expect(retries.first.map { $0.reason.contains("dashboard") && $0.reason.contains("127.0.0.1") } == true, "\(events.map(\.reason))")
        #expect(events.filter { $0.to == .completed }.count == 1)
        #expect(try await journal.verify().isSound)
    }
}
