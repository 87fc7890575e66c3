import Foundation
import Journal
import WorkerStore
import Testing
import WorkerTestKit

/// docs/deploy/: the supervisord program section run by the real supervisord, the systemd unit checked by
/// systemd-analyze, and every recipe's stop timeout checked against its drain.
@Suite struct DeployRecipeTests {
    static let deployDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/deploy").path

    static func recipe(_ name: String) throws -> String {
        try String(contentsOfFile: "\(deployDirectory)/\(name)", encoding: .utf8)
    }

    /// The number after `key` (`--drain-timeout 25`, `stopwaitsecs=30`, `"stopTimeout": 30`) on the first line
    /// of `text` that starts with `linePrefix` (the setting itself, not a comment about it).
    static func number(after key: String, onLineStartingWith linePrefix: String, in text: String) -> Int? {
        guard let line = text.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(linePrefix) }),
              let range = line.range(of: key) else { return nil }
        return Int(line[range.upperBound...].drop { !$0.isNumber }.prefix { $0.isNumber })
    }

    @Test(arguments: [
        ("supervisord.conf", "command=", "stopwaitsecs=", "stopwaitsecs="),
        ("worker.service", "ExecStart=", "TimeoutStopSec=", "TimeoutStopSec="),
        ("Dockerfile", "CMD ", "#   docker run", "--stop-timeout "),
        ("ecs-task-definition.json", "\"command\":", "\"stopTimeout\":", "\"stopTimeout\":"),
        ("kubernetes.yaml", "args:", "terminationGracePeriodSeconds:", "terminationGracePeriodSeconds:"),
        ("kubernetes-postgresql.yaml", "args:", "terminationGracePeriodSeconds:", "terminationGracePeriodSeconds:"),
        ("ecs-postgresql.json", "\"command\":", "\"stopTimeout\":", "\"stopTimeout\":"),
    ])
    func everyRecipeGivesTheDrainTimeToFinish(file: String, commandLine: String, stopLine: String, stopKey: String) throws {
        let text = try Self.recipe(file)
        let drain = try #require(Self.number(after: "--drain-timeout", onLineStartingWith: commandLine, in: text), "\(file): no --drain-timeout on its command line")
        let stop = try #require(Self.number(after: stopKey, onLineStartingWith: stopLine, in: text), "\(file): no stop timeout")
        // The worker exits within drain + 1 s of grace + the final commit; the supervisor must wait longer.
        #expect(stop >= drain + 2, "\(file): stop timeout \(stop) s for a drain of \(drain) s")
    }

    /// The PostgreSQL recipes are what they say: several workers, the URL from a secret, valid JSON.
    @Test func thePostgreSQLRecipesRunSeveralWorkersOnASecretURL() throws {
        let kubernetes = try Self.recipe("kubernetes-postgresql.yaml")
        #expect(kubernetes.contains("kind: Deployment") && kubernetes.contains("secretKeyRef") && !kubernetes.contains("volumeClaimTemplates"))
        #expect((Self.number(after: "replicas:", onLineStartingWith: "replicas:", in: kubernetes) ?? 0) > 1)
        let ecs = try JSONSerialization.jsonObject(with: Data(try Self.recipe("ecs-postgresql.json").utf8)) as? [String: Any]
        let service = ecs?["service"] as? [String: Any]
        #expect((service?["desiredCount"] as? Int ?? 0) > 1)
        let container = ((ecs?["taskDefinition"] as? [String: Any])?["containerDefinitions"] as? [[String: Any]])?.first
        #expect((container?["secrets"] as? [[String: Any]])?.first?["name"] as? String == "WORKER_DB")
    }

    @Test(.enabled("needs systemd-analyze") { FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") })
    func theSystemdUnitPassesSystemdAnalyzeVerify() async throws {
        let directory = try TemporaryDirectory("unit")
        defer { directory.remove() }
        let unit = try Self.recipe("worker.service")
        #expect(unit.contains("Type=notify") && unit.contains("RestartPreventExitStatus=78") && unit.contains("KillMode=mixed"))
        // Only the binary's path differs from the file in docs (verify checks that it exists).
        let path = directory.file("worker.service")
        try unit.replacingOccurrences(of: "/usr/local/bin/worker", with: ProductBinary.path("worker"))
            .write(toFile: path, atomically: true, encoding: .utf8)
        let result = try await runProcess("/usr/bin/systemd-analyze", ["verify", path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty && result.stdout.isEmpty, "systemd-analyze warned: \(result.stderr)\(result.stdout)")
    }

    @Test(.enabled("needs supervisord (Debian's supervisor package)") { FileManager.default.isExecutableFile(atPath: "/usr/bin/supervisord") })
    func underSupervisordRestartsDrainRebindTheAdminPortAndLoseNothing() async throws {
        let fixture = try RunFixture()
        defer { fixture.remove() }
        let supervisor = try await Supervisord(fixture: fixture)
        defer { supervisor.kill() }
        #expect(try await eventually(timeout: .seconds(30)) { try await supervisor.ctl("status", "worker").stdout.contains("RUNNING") })
        #expect(await eventually(timeout: .seconds(30)) { (try? await HTTPProbe.get("/readyz", port: supervisor.port).status) == 200 })

        var jobs: [Int64] = []
        let restarts = 20
        for round in 1...restarts {
            // Load: jobs that are running when the restart comes, and short ones behind them.
            for _ in 0..<3 { jobs.append(try await fixture.enqueue("sleep", #"{"ms": 2500}"#)) }
            for index in 0..<20 {
                jobs.append(try await fixture.enqueue("append", #"{"path": "\#(fixture.directory.file("effects.txt"))", "text": "r\#(round)-\#(index)", "steps": 2}"#))
            }
            let inFlight = jobs[jobs.count - 23]
            #expect(try await eventually(timeout: .seconds(30)) { try await fixture.journal.job(inFlight).state != .queued })
            let restart = try await supervisor.ctl("restart", "worker")
            #expect(restart.status == 0, "\(restart.stdout)\(restart.stderr)")
            #expect(restart.stdout.contains("worker: stopped") && restart.stdout.contains("worker: started"), "\(restart.stdout)")
            // The new process bound the admin port at once (no "address already in use") and is ready.
            #expect(await eventually(timeout: .seconds(30)) { (try? await HTTPProbe.get("/readyz", port: supervisor.port).status) == 200 })
        }
        let stop = try await supervisor.ctl("stop", "worker")
        #expect(stop.status == 0 && stop.stdout.contains("worker: stopped"), "\(stop.stdout)")
        try await supervisor.shutdown()
        let log = try String(contentsOfFile: fixture.directory.file("worker.log"), encoding: .utf8)
        #expect(log.components(separatedBy: "draining (SIGTERM)").count - 1 == restarts + 1, "a drain per restart and one for the stop")
        #expect(!log.contains("in use"), "\(log)")
        let inFlightAtDrain = log.components(separatedBy: "draining (SIGTERM): intake stopped, ").dropFirst()
            .map { Int($0.prefix { $0.isNumber }) ?? 0 }
        // Under load: many restarts come with jobs running (a starved test process may be late for some: with the
        // whole suite beside it on two cores, 13 of 20 were seen; with three more test runs and two busy loops
        // beside that, 8). A premise, not the property: the checks below hold whatever the count.
        #expect(inFlightAtDrain.prefix(restarts).filter { $0 > 0 }.count >= restarts / 4, "jobs in flight at each drain: \(inFlightAtDrain)")

        // Whatever a drain interrupted resumes at the next start: finish everything, then check.
        try await fixture.runUntilIdle()
        for id in jobs { #expect(try await fixture.journal.job(id).state == .completed) }
        let lines = try String(contentsOfFile: fixture.directory.file("effects.txt"), encoding: .utf8).split(separator: "\n")
        #expect(Set(lines).count == restarts * 20 * 2, "every append step's line is there")
        try await fixture.expectSound()
    }
}

/// supervisord on a configuration of its own: a socket, a log and the program section of docs/deploy, with
/// the paths, the plugin and the admin port replaced for the test.
struct Supervisord {
    let fixture: RunFixture
    let config: String
    let port: Int
    let process: ChildProcess

    init(fixture: RunFixture) async throws {
        self.fixture = fixture
        let directory = fixture.directory
        port = try ListeningSocket().port  // free now; the socket closes when the probe goes
        var program = try DeployRecipeTests.recipe("supervisord.conf")
        for (from, to) in [
            ("/usr/local/bin/worker", ProductBinary.path("worker")),
            ("/var/lib/worker/worker.sqlite3", fixture.db),
            ("--plugins /usr/local/lib/worker", "--plugin \(PluginFixtures.examples)"),
            ("directory=/var/lib/worker", "directory=\(directory.path)"),
            ("/var/log/worker/worker.log", directory.file("worker.log")),
            ("127.0.0.1:9090", "127.0.0.1:\(port)"),
            ("user=worker\n", ""),  // the tests run as whoever runs them
        ] {
            #expect(program.contains(from), "docs/deploy/supervisord.conf no longer has '\(from)'")
            program = program.replacingOccurrences(of: from, with: to)
        }
        config = directory.file("supervisord.conf")
        try """
            [unix_http_server]
            file=\(directory.file("supervisor.sock"))
            [supervisord]
            logfile=\(directory.file("supervisord.log"))
            pidfile=\(directory.file("supervisord.pid"))
            childlogdir=\(directory.path)
            nodaemon=true
            [rpcinterface:supervisor]
            supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
            [supervisorctl]
            serverurl=unix://\(directory.file("supervisor.sock"))

            """.appending(program).write(toFile: config, atomically: true, encoding: .utf8)
        process = try await startProcess("/usr/bin/supervisord", ["-c", config], outputPath: directory.file("supervisord.out"))
    }

    func ctl(_ arguments: String...) async throws -> ProcessResult {
        try await runProcess("/usr/bin/supervisorctl", ["-c", config] + arguments)
    }

    /// Shuts supervisord down (and the worker with it, if it runs). Through supervisorctl, not a signal: a
    /// process the test starts inherits the test thread's blocked signals.
    func shutdown() async throws {
        _ = try await ctl("shutdown")
        if await process.waitForExit(timeout: .seconds(60)) == nil { kill() }
    }

    /// The last resort when a test failed before `shutdown`: nothing may outlive the test.
    func kill() {
        process.signal(SIGKILL)
    }
}
