import Foundation
import Journal
import Testing
import WorkerStore
import WorkerTestKit

/// The dashboard over real HTTP, from the built binary (`worker dashboard`, `worker run --admin`): every page, filter
/// and API call, the actions, and every refusal.
@Suite struct DashboardTests {
    static let token = "t0k3n-for-the-dashboard-tests-0123456789"

    /// A journal with jobs in every interesting state: 2 completed in `default`, a dead `fail` job, a queued `noop`
    /// in `mail` carrying markup in its payload, and a schedule `nightly` (which fired once by hand).
    struct Seeded {
        let fixture: RunFixture
        let dead: Int64
        let mail: Int64
        let scheduled: Int64
    }

    static func seed(_ kind: StoreKind) async throws -> Seeded {
        let fixture = try await RunFixture.make(kind)
        for _ in 0..<2 { try await fixture.enqueue("noop") }
        let dead = try await fixture.journal.enqueue(NewJob(handler: "fail", payload: #"{"times": 1}"#, maxAttempts: 1)).job.id
        try await fixture.runUntilIdle()
        let mail = try await fixture.journal.enqueue(NewJob(handler: "noop", payload: #"{"note": "<script>alert(1)</script> secret-42"}"#, queue: "mail")).job.id
        _ = try await fixture.journal.addSchedule(ScheduleDefinition(name: "nightly", handler: "noop", cron: "0 3 * * *"), replace: false)
        let scheduled = try await fixture.journal.runSchedule("nightly").id
        return Seeded(fixture: fixture, dead: dead, mail: mail, scheduled: scheduled)
    }

    /// `worker dashboard` on the fixture's journal, with `extra` options; its port.
    static func dashboard(_ fixture: RunFixture, _ extra: [String] = [], log: String = "dashboard.log") async throws -> (RunningWorker, Int) {
        let process = try await RunningWorker(["dashboard", "--db", fixture.db, "--admin", "127.0.0.1:0"] + extra, logPath: fixture.directory.file(log))
        let port = try #require(await process.adminPort(), "\(process.log)")
        return (process, port)
    }

    static func tokenFile(_ fixture: RunFixture) throws -> String {
        let path = fixture.directory.file("token")
        try (token + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func json(_ response: HTTPProbe.Response) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any], "\(response.body)")
    }

    @Test(arguments: StoreKind.allCases)
    func everyPageAndFilterShowsWhatTheJournalHolds(_ kind: StoreKind) async throws {
        let seeded = try await Self.seed(kind)
        defer { seeded.fixture.remove() }
        let (process, port) = try await Self.dashboard(seeded.fixture)
        defer { process.killGroup() }
        func get(_ path: String) async throws -> HTTPProbe.Response { try await HTTPProbe.get(path, port: port) }

        let overview = try await get("/")
        #expect(overview.status == 200)
        #expect(overview.body.contains(#"<tr data-queue="default">"#) && overview.body.contains(#"<tr data-queue="mail">"#))
        #expect(overview.body.contains("<svg") && overview.body.contains("Completed: "))
        #expect(overview.headers["content-security-policy"]?.contains("default-src 'none'") == true)
        #expect(overview.headers["x-frame-options"] == "DENY")

        let dead = try await get("/jobs?state=dead")
        #expect(dead.status == 200 && dead.body.contains(#"data-job-id="\#(seeded.dead)""#))
        #expect(!dead.body.contains(#"data-job-id="\#(seeded.mail)""#))
        #expect(try await get("/jobs?queue=mail").body.contains(#"data-job-id="\#(seeded.mail)""#))
        #expect(!(try await get("/jobs?queue=mail").body.contains(#"data-job-id="\#(seeded.dead)""#)))
        #expect(try await get("/jobs?handler=fail").body.contains(#"data-job-id="\#(seeded.dead)""#))
        let bySchedule = try await get("/jobs?schedule=nightly").body
        #expect(bySchedule.contains(#"data-job-id="\#(seeded.scheduled)""#) && !bySchedule.contains(#"data-job-id="\#(seeded.mail)""#))
        let byText = try await get("/jobs?q=secret-42").body
        #expect(byText.contains(#"data-job-id="\#(seeded.mail)""#) && !byText.contains(#"data-job-id="\#(seeded.dead)""#))
        #expect(try await get("/jobs?q=planned%20failure").body.contains(#"data-job-id="\#(seeded.dead)""#), "the last error is searched")

        // Keyset pages: two at a time, newest first, each page's next link leads on, no job twice, none left out.
        var seen: [String] = []
        var path: String? = "/jobs?limit=2"
        while let next = path {
            let body = try await get(next.replacingOccurrences(of: "&amp;", with: "&")).body
            seen += body.matches(of: /data-job-id="(\d+)"/).map { String($0.1) }
            path = body.firstMatch(of: /id="next" href="([^"]+)"/).map { String($0.1) }
        }
        #expect(seen.count == 5 && Set(seen).count == 5, "\(seen)")
        #expect(seen.compactMap(Int.init) == seen.compactMap(Int.init).sorted(by: >))

        let job = try await get("/jobs/\(seeded.mail)")
        #expect(job.status == 200 && job.body.contains(#"<span id="job-state" class="state s-queued">queued</span>"#))
        #expect(job.body.contains("&lt;script&gt;") && !job.body.contains("<script>alert"), "payloads are escaped")
        let deadJob = try await get("/jobs/\(seeded.dead)").body
        #expect(deadJob.contains("planned failure 1 of 1") && deadJob.contains(#"id="retry""#) && deadJob.contains("attempts exhausted"))
        #expect(deadJob.contains("examples"), "the plugin that ran it")

        let workers = try await get("/workers")
        #expect(workers.status == 200 && workers.body.contains(#"id="workers""#) && workers.body.contains(">stopped<"))
        let schedules = try await get("/schedules")
        #expect(schedules.status == 200 && schedules.body.contains(#"<tr data-schedule="nightly">"#) && schedules.body.contains("0 3 * * *"))
        #expect(try await get("/login").body.contains(#"read-only"#))

        // Refusals: a bad filter is 400 with the fix, an unknown job 404, an unknown page 404.
        let bad = try await get("/jobs?state=bogus")
        #expect(bad.status == 400 && bad.body.contains("state &#39;bogus&#39; is not a state") || bad.body.contains("is not a state"))
        #expect(try await get("/jobs?after=-3").status == 400)
        #expect(try await get("/jobs?limit=100000").status == 400)
        #expect(try await get("/jobs/999999").status == 404)
        #expect(try await get("/jobs/abc").status == 400)
        #expect(try await get("/nothing-here").status == 404)
    }

    @Test(arguments: StoreKind.allCases)
    func theAPIAnswersTheSameDataAsJSON(_ kind: StoreKind) async throws {
        let seeded = try await Self.seed(kind)
        defer { seeded.fixture.remove() }
        let (process, port) = try await Self.dashboard(seeded.fixture)
        defer { process.killGroup() }
        func get(_ path: String) async throws -> [String: Any] {
            let response = try await HTTPProbe.get(path, port: port)
            #expect(response.status == 200, "\(path): \(response.body)")
            #expect(response.headers["content-type"]?.hasPrefix("application/json") == true)
            return try Self.json(response)
        }
        let overview = try await get("/api/overview")
        let states = try #require(overview["states"] as? [String: Int])
        #expect(states["dead"] == 1 && states["queued"] == 2 && states["completed"] == nil, "\(states)")
        #expect(overview["completed_last_hour"] as? Int == 2, "\(overview)")
        let activity = try #require(overview["activity"] as? [[String: Any]])
        #expect(activity.reduce(0) { $0 + ($1["failed"] as? Int ?? 0) } == 1, "the dead job's attempt: \(activity)")
        let queues = try #require(overview["queues"] as? [[String: Any]])
        #expect(Set(queues.compactMap { $0["name"] as? String }) == ["default", "mail"])

        let dead = try #require(try await get("/api/jobs?state=dead")["jobs"] as? [[String: Any]])
        #expect(dead.map { $0["id"] as? Int } == [Int(seeded.dead)])
        #expect(dead.first?["last_error"] as? String == "planned failure 1 of 1")
        let page = try await get("/api/jobs?limit=2&order=oldest")
        #expect((page["jobs"] as? [[String: Any]])?.count == 2 && page["next"] is Int)

        let job = try await get("/api/jobs/\(seeded.dead)")
        let events = try #require(job["events"] as? [[String: Any]])
        #expect(events.map { $0["to"] as? String } == ["queued", "running", "dead"])
        #expect((job["plugin"] as? [String: Any])?["name"] as? String == "examples")

        let workers = try #require(try await get("/api/workers")["workers"] as? [[String: Any]])
        #expect(workers.count == 1 && workers.first?["live"] as? Bool == false)
        let schedules = try #require(try await get("/api/schedules")["schedules"] as? [[String: Any]])
        #expect(schedules.first?["name"] as? String == "nightly" && (schedules.first?["totals"] as? [String: Int])?["manual"] == 1)
        #expect((try await get("/api/queues")["queues"] as? [[String: Any]])?.isEmpty == false)

        let missing = try await HTTPProbe.get("/api/jobs/999999", port: port)
        let missingError = try Self.json(missing)["error"] as? String
        #expect(missing.status == 404 && missingError?.contains("999999") == true)
        let bad = try await HTTPProbe.get("/api/jobs?order=sideways", port: port)
        let badError = try Self.json(bad)["error"] as? String
        #expect(bad.status == 400 && badError?.contains("newest or oldest") == true)
    }

    @Test func withoutATokenEveryActionIsRefusedAndNothingChanges() async throws {
        let seeded = try await Self.seed(.sqlite)
        defer { seeded.fixture.remove() }
        let (process, port) = try await Self.dashboard(seeded.fixture)
        defer { process.killGroup() }
        let attempts: [(String, String)] = [
            ("/api/jobs/\(seeded.dead)/retry", ""), ("/api/jobs/\(seeded.mail)/cancel", ""), ("/api/queues/mail/pause", ""),
            ("/api/schedules/nightly/run", ""), ("/api/jobs/bulk?action=retry&state=dead", ""),
            ("/jobs/\(seeded.dead)/retry", "csrf=x"), ("/queues/mail/pause", "csrf=x"), ("/jobs/bulk", "action=retry&state=dead&csrf=x"),
        ]
        for (path, body) in attempts {
            let response = try await HTTPProbe.request(
                "POST", path, port: port, headers: ["Authorization": "Bearer \(Self.token)"], body: body)
            #expect(response.status == 403, "\(path): \(response.status) \(response.body)")
            #expect(response.body.contains("read-only"), "\(path): \(response.body)")
        }
        #expect(try await HTTPProbe.request("POST", "/login", port: port, body: "token=\(Self.token)").status == 403)
        let journal = seeded.fixture.journal
        #expect(try await journal.job(seeded.dead).state == .dead)
        #expect(try await journal.job(seeded.mail).state == .queued)
        #expect(try await journal.queueSettings().isEmpty)
        #expect(try await journal.jobs(JobFilter(schedule: "nightly")).count == 1)
    }

    @Test(arguments: StoreKind.allCases)
    func theAPITakesTheBearerTokenAndNamesTheDashboardInTheJournal(_ kind: StoreKind) async throws {
        let seeded = try await Self.seed(kind)
        defer { seeded.fixture.remove() }
        let (process, port) = try await Self.dashboard(seeded.fixture, ["--admin-token-file", try Self.tokenFile(seeded.fixture)])
        defer { process.killGroup() }
        let journal = seeded.fixture.journal
        func post(_ path: String, token: String? = Self.token) async throws -> HTTPProbe.Response {
            try await HTTPProbe.request("POST", path, port: port, headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:])
        }
        for token in [nil, "wrong-token-wrong-token", Self.token + "x", String(Self.token.dropLast())] {
            let refused = try await post("/api/jobs/\(seeded.dead)/retry", token: token)
            #expect(refused.status == 401 && refused.headers["www-authenticate"] == "Bearer")
            #expect(try Self.json(refused)["error"] as? String == "unauthorized", "no detail")
        }
        #expect(try await journal.job(seeded.dead).state == .dead)

        let retried = try await post("/api/jobs/\(seeded.dead)/retry")
        #expect(retried.status == 200, "\(retried.body)")
        #expect((try Self.json(retried)["job"] as? [String: Any])?["state"] as? String == "queued")
        let event = try #require(try await journal.events(job: seeded.dead).last)
        #expect(event.to == .queued && event.reason.contains("dashboard (client 127.0.0.1)"), "\(event.reason)")
        #expect(try await post("/api/jobs/\(seeded.dead)/retry").status == 409, "a queued job cannot be retried")

        #expect(try await post("/api/jobs/\(seeded.mail)/cancel").status == 200)
        #expect(try await journal.job(seeded.mail).state == .cancelled)
        #expect(try await journal.events(job: seeded.mail).last?.reason.contains("dashboard (client 127.0.0.1)") == true)

        #expect(try await post("/api/queues/mail/pause").status == 200)
        #expect(try await journal.queueSettings().first { $0.name == "mail" }?.pausedAt != nil)
        #expect(try await post("/api/queues/mail/resume").status == 200)
        #expect(try await journal.queueSettings().first { $0.name == "mail" }?.pausedAt == nil)

        let ran = try await post("/api/schedules/nightly/run")
        #expect(ran.status == 200)
        #expect(try await journal.jobs(JobFilter(schedule: "nightly")).count == 2)
        #expect(try await post("/api/schedules/nope/run").status == 404)

        // Bulk: a dry run counts, the real one changes, both need a filter.
        #expect(try await post("/api/jobs/bulk?action=cancel").status == 400)
        let plan = try Self.json(try await post("/api/jobs/bulk?action=cancel&queue=default&state=queued&dry_run=1"))
        #expect(plan["accepted"] as? Int == 3, "\(plan)")  // the retried dead job and the schedule's two
        #expect(try await journal.job(seeded.dead).state == .queued)
        let done = try Self.json(try await post("/api/jobs/bulk?action=cancel&queue=default&state=queued"))
        #expect(done["cancelled"] as? Int == 3, "\(done)")
        #expect(try await journal.job(seeded.dead).state == .cancelled)
        #expect(try await journal.events(job: seeded.dead).last?.reason.contains("by dashboard (client 127.0.0.1) in bulk") == true)
        try await seeded.fixture.expectSound()
    }

    @Test func formsNeedALoginAndTheSessionsCSRFToken() async throws {
        let seeded = try await Self.seed(.sqlite)
        defer { seeded.fixture.remove() }
        let (process, port) = try await Self.dashboard(seeded.fixture, ["--admin-token-file", try Self.tokenFile(seeded.fixture)])
        defer { process.killGroup() }
        let journal = seeded.fixture.journal
        let retry = "/jobs/\(seeded.dead)/retry"

        #expect(try await HTTPProbe.request("POST", retry, port: port, body: "csrf=anything").status == 401)
        let wrong = try await HTTPProbe.request("POST", "/login", port: port, body: "token=not-the-token-at-all")
        #expect(wrong.status == 401 && wrong.headers["set-cookie"] == nil && wrong.body.contains("wrong token"))
        let login = try await HTTPProbe.request("POST", "/login", port: port, body: "token=\(Self.token)")
        #expect(login.status == 303 && login.headers["location"] == "/")
        let setCookie = try #require(login.headers["set-cookie"])
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
        let cookie = String(setCookie.prefix { $0 != ";" })
        let page = try await HTTPProbe.request("GET", "/jobs/\(seeded.dead)", port: port, headers: ["Cookie": cookie]).body
        #expect(page.contains(#"id="logout""#))
        let csrf = try #require(page.firstMatch(of: /name="csrf" value="([0-9a-f]{64})"/).map { String($0.1) })

        // A logged-in browser still needs the page's CSRF token, and a post from another site is refused.
        for body in ["", "csrf=", "csrf=\(String(repeating: "0", count: 64))"] {
            #expect(try await HTTPProbe.request("POST", retry, port: port, headers: ["Cookie": cookie], body: body).status == 403)
        }
        let crossSite = try await HTTPProbe.request(
            "POST", retry, port: port, headers: ["Cookie": cookie, "Origin": "http://evil.example"], body: "csrf=\(csrf)")
        #expect(crossSite.status == 403)
        #expect(try await journal.job(seeded.dead).state == .dead)

        let done = try await HTTPProbe.request(
            "POST", retry, port: port, headers: ["Cookie": cookie, "Origin": "http://127.0.0.1:\(port)"], body: "csrf=\(csrf)")
        #expect(done.status == 303 && done.headers["location"] == "/jobs/\(seeded.dead)?done=retried")
        #expect(try await journal.job(seeded.dead).state == .queued)
        #expect(try await HTTPProbe.request("GET", "/jobs/\(seeded.dead)?done=retried", port: port, headers: ["Cookie": cookie]).body.contains(#"id="notice""#))

        // Bulk through the form: a confirmation page with the count, then the change.
        let confirm = try await HTTPProbe.request("GET", "/jobs/bulk?action=cancel&queue=mail", port: port, headers: ["Cookie": cookie]).body
        #expect(confirm.contains(#"<p id="bulk-count">1 job(s) match: <strong>1</strong> would be cancelled"#), "\(confirm)")
        #expect(try await journal.job(seeded.mail).state == .queued, "the confirmation page changes nothing")
        let bulk = try await HTTPProbe.request(
            "POST", "/jobs/bulk", port: port, headers: ["Cookie": cookie], body: "csrf=\(csrf)&action=cancel&queue=mail")
        #expect(bulk.status == 200 && bulk.body.contains("Cancelled 1 job(s) of queue=mail"), "\(bulk.body)")
        #expect(try await journal.job(seeded.mail).state == .cancelled)

        let pause = try await HTTPProbe.request("POST", "/queues/mail/pause", port: port, headers: ["Cookie": cookie], body: "csrf=\(csrf)")
        let pausedAt = try await journal.queueSettings().first?.pausedAt
        #expect(pause.status == 303 && pausedAt != nil)
        let run = try await HTTPProbe.request("POST", "/schedules/nightly/run", port: port, headers: ["Cookie": cookie], body: "csrf=\(csrf)")
        let fired = try await journal.jobs(JobFilter(schedule: "nightly")).count
        #expect(run.status == 303 && fired == 2)

        // Logged out, the cookie opens nothing.
        #expect(try await HTTPProbe.request("POST", "/logout", port: port, headers: ["Cookie": cookie], body: "csrf=\(csrf)").status == 303)
        #expect(try await HTTPProbe.request("POST", "/queues/mail/resume", port: port, headers: ["Cookie": cookie], body: "csrf=\(csrf)").status == 401)
        #expect(await process.waitForLog("job \(seeded.dead) retried by dashboard (client 127.0.0.1)", timeout: .seconds(10)), "\(process.log)")
    }

    @Test func hiddenPayloadsAreNeitherShownNorSearchable() async throws {
        let seeded = try await Self.seed(.sqlite)
        defer { seeded.fixture.remove() }
        let (process, port) = try await Self.dashboard(seeded.fixture, ["--admin-hide-payloads"])
        defer { process.killGroup() }
        for path in ["/jobs/\(seeded.mail)", "/api/jobs/\(seeded.mail)", "/jobs", "/api/jobs", "/jobs/\(seeded.dead)", "/api/jobs/\(seeded.dead)"] {
            let body = try await HTTPProbe.get(path, port: port).body
            #expect(!body.contains("secret-42") && !body.contains("planned failure"), "\(path): \(body)")
        }
        #expect(try Self.json(try await HTTPProbe.get("/api/jobs/\(seeded.mail)", port: port))["payload"] is NSNull)
        #expect(try await HTTPProbe.get("/jobs?q=secret", port: port).status == 403)
        #expect(try await HTTPProbe.get("/api/jobs?q=secret", port: port).status == 403)
    }

    @Test func theStandaloneDashboardIsReadyServesMetricsAndStopsOnTerm() async throws {
        let seeded = try await Self.seed(.sqlite)
        defer { seeded.fixture.remove() }
        let (process, port) = try await Self.dashboard(seeded.fixture)
        #expect(try await HTTPProbe.get("/healthz", port: port).status == 200)
        #expect(try await HTTPProbe.get("/readyz", port: port).status == 200)
        let metrics = try await HTTPProbe.get("/metrics", port: port)
        #expect(metrics.status == 200 && metrics.body.contains(#"worker_queue_jobs{queue="mail",state="queued"} 1"#), "\(metrics.body)")
        let taken = try await runProcess(
            ProductBinary.path("worker"), ["dashboard", "--db", seeded.fixture.db, "--admin", "127.0.0.1:\(port)"],
            currentDirectory: seeded.fixture.directory.path)
        #expect(taken.status == 75 && taken.stderrLines.count == 1 && taken.stderr.contains("the address is in use"), "\(taken.stderr)")
        process.signal(SIGTERM)
        #expect((await process.waitForExit(timeout: .seconds(60)))?.status == 0, "\(process.log)")
        await #expect(throws: HTTPProbe.Failure.self) { try await HTTPProbe.get("/healthz", port: port) }
        #expect(try await seeded.fixture.journal.job(seeded.mail).state == .queued, "it runs no job")
    }

    @Test func badDashboardOptionsAreOneLineErrors() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let worker = ProductBinary.path("worker")
        let short = fixture.directory.file("short")
        try "abc\n".write(toFile: short, atomically: true, encoding: .utf8)
        let empty = fixture.directory.file("empty")
        try "\n".write(toFile: empty, atomically: true, encoding: .utf8)
        let cases: [([String], Int32, String)] = [
            (["dashboard", "--db", fixture.db, "--admin", "127.0.0.1:0", "--admin-token-file", fixture.directory.file("missing")], 78, "cannot read it"),
            (["dashboard", "--db", fixture.db, "--admin", "127.0.0.1:0", "--admin-token-file", short], 78, "use at least 16"),
            (["dashboard", "--db", fixture.db, "--admin", "127.0.0.1:0", "--admin-token-file", empty], 78, "it is empty"),
            (["dashboard", "--db", fixture.db], 64, "--admin"),
            (["run", "--db", fixture.db, "--admin-token-file", short], 64, "--admin-token-file needs --admin"),
            (["run", "--db", fixture.db, "--admin-hide-payloads"], 64, "--admin-hide-payloads needs --admin"),
        ]
        for (arguments, status, mentioning) in cases {
            let result = try await runProcess(worker, arguments, currentDirectory: fixture.directory.path)
            #expect(result.status == status, "\(arguments): \(result.status) \(result.stderr)")
            #expect(result.stderrLines.count == 1 && result.stderr.contains(mentioning), "\(arguments): \(result.stderr)")
        }
    }

    @Test func aRunningWorkerRetriesADeadJobFromItsDashboardAndCompletesIt() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        // Dead while its directory is missing; once an operator makes it, a retry completes.
        let directory = fixture.directory.file("later")
        let payload = #"{"path": "\#(directory)/out.txt", "text": "done"}"#
        let dead = try await fixture.journal.enqueue(NewJob(handler: "append", payload: payload, maxAttempts: 1)).job.id
        let worker = try await fixture.start(["--admin", "127.0.0.1:0", "--admin-token-file", try Self.tokenFile(fixture)])
        let port = try #require(await worker.adminPort(), "\(worker.log)")
        #expect(try await eventually(timeout: .seconds(30)) { try await fixture.journal.job(dead).state == .dead })
        let workers = try Self.json(try await HTTPProbe.get("/api/workers", port: port))["workers"] as? [[String: Any]]
        #expect(workers?.first?["live"] as? Bool == true, "\(String(describing: workers))")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        let retried = try await HTTPProbe.request("POST", "/api/jobs/\(dead)/retry", port: port, headers: ["Authorization": "Bearer \(Self.token)"])
        #expect(retried.status == 200, "\(retried.body)")
        #expect(try await eventually(timeout: .seconds(30)) { try await fixture.journal.job(dead).state == .completed })
        worker.signal(SIGTERM)
        #expect((await worker.waitForExit())?.status == 0, "\(worker.log)")
        try await fixture.expectSound()
    }
}
