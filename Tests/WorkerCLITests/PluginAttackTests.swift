import Foundation
import Testing
import WorkerTestKit

/// Issue 11, the plugin items: each attack against the real binary.
@Suite struct PluginAttackTests {
    /// `nobody`: the uid of the attacker who owns a directory on a plugin's path.
    static let attacker: uid_t = 65534

    // MARK: Item 4: what is checked is what is loaded

    @Test(.enabled(if: getuid() == 0, "chown to another user needs root"))
    func aPluginBelowADirectoryAnotherUserOwnsIsRefused() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let cli = try CLIFixture()
        defer { cli.remove() }
        let owned = fixtures.directory.file("owned")
        try FileManager.default.createDirectory(atPath: owned + "/deeper", withIntermediateDirectories: true)
        chown(owned, Self.attacker, Self.attacker)
        let marker = fixtures.directory.file("constructor-ran")
        let built = try await fixtures.markingPlugin("plugin.so", marker: marker)
        let plugin = owned + "/deeper/plugin.so"
        try FileManager.default.moveItem(atPath: built, toPath: plugin)
        let job = try await cli.ok(["enqueue", "c-steps", "--payload", "\"/dev/null\""])
        let reason = "its directory \(owned) is owned by uid \(Self.attacker), neither root nor the worker's user"
        expectFailure(try await cli.worker(["plugins", "check", plugin], withDB: false), status: 78, mentioning: "plugin \(plugin) rejected: \(reason)")
        expectFailure(try await cli.worker(["run", "--plugin", plugin, "--exit-when-idle"]), status: 78, mentioning: reason)
        expectFailure(try await cli.worker(["run", "--plugins", owned + "/deeper", "--exit-when-idle"]), status: 78, mentioning: reason)
        #expect(!FileManager.default.fileExists(atPath: marker), "the plugin's constructor ran")
        try await expectUntouched(job, cli)
    }

    /// The attack of issue 11: the owner of an ancestor directory swaps the plugin directory for one of theirs in
    /// a loop while the worker starts. Every start must refuse the plugin, and the attacker's code never run.
    @Test(.enabled(if: getuid() == 0, "chown to another user needs root"))
    func swappingAnAncestorDirectoryNeverRunsTheAttackersCode() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["migrate"])
        let (attackerDirectory, marker) = try await swappableDirectories(fixtures, "home", good: "plugins", other: "evil")
        chown(attackerDirectory, Self.attacker, Self.attacker)
        chown(attackerDirectory + "/evil", Self.attacker, Self.attacker)
        let swapper = try await startSwapper(fixtures, in: attackerDirectory, "plugins", "evil")
        defer { swapper.signal(SIGKILL) }
        let plugin = attackerDirectory + "/plugins/plugin.so"
        for start in 1...20 {
            let result = start % 2 == 0
                ? try await cli.worker(["plugins", "check", plugin], withDB: false)
                : try await cli.worker(["run", "--plugin", plugin, "--exit-when-idle"])
            #expect(result.status == 78, "start \(start): \(result.stderr)")
            #expect(result.stderr.contains("owned by uid \(Self.attacker)"), "start \(start): \(result.stderr)")
        }
        #expect(swapper.isAlive, "the swapper stopped: \(swapper.log)")
        #expect(!FileManager.default.fileExists(atPath: marker), "the attacker's constructor ran")
    }

    /// The same race where the directories are trusted but a pin names the good file: the file whose digest is
    /// checked must be the file loaded, so a start either loads the good plugin or refuses the other before its
    /// code runs.
    @Test func swappingBetweenTheCheckAndTheLoadNeverRunsUnpinnedCode() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["migrate"])
        let (base, marker) = try await swappableDirectories(fixtures, "base", good: "plugins", other: "other")
        let pin = try await runProcess("/usr/bin/env", ["sha256sum", base + "/plugins/plugin.so"]).stdout
        let pins = try fixtures.file("pins", text: pin)
        let swapper = try await startSwapper(fixtures, in: base, "plugins", "other")
        defer { swapper.signal(SIGKILL) }
        let plugin = base + "/plugins/plugin.so"
        var loaded = 0
        for start in 1...20 {
            let result = start % 2 == 0
                ? try await cli.worker(["plugins", "check", "--pins", pins, plugin], withDB: false)
                : try await cli.worker(["run", "--plugin-pins", pins, "--plugin", plugin, "--exit-when-idle"])
            #expect(result.status == 0 || result.stderr.contains("pins"), "start \(start): \(result.stderr)")
            if result.status == 0 { loaded += 1 }
        }
        #expect(swapper.isAlive, "the swapper stopped: \(swapper.log)")
        #expect(!FileManager.default.fileExists(atPath: marker), "code that does not match the pin ran (\(loaded) starts loaded)")
    }

    // MARK: Items 10 and 11: a plugin whose code ends the process, or takes its signals, while it loads

    @Test(arguments: [
        (["CONSTRUCTOR_EXIT=0"], "it called exit(0) while loading (in its initialisers or create()): fix it or leave it out"),
        (["CONSTRUCTOR_EXIT=3"], "it called exit(3) while loading (in its initialisers or create()): fix it or leave it out"),
        (["CONSTRUCTOR_ABORT"], "it crashed while loading (signal \(SIGABRT), Aborted, in its initialisers or create()): fix it or leave it out"),
        (["CONSTRUCTOR_NULL"], "it crashed while loading (signal \(SIGSEGV), Segmentation fault, in its initialisers or create()): fix it or leave it out"),
        (["CONSTRUCTOR_TERM"], "it changed the handling of SIGTERM while loading (in its initialisers or create())"),
        (["CREATE_TERM"], "it changed the handling of SIGTERM while loading (in its initialisers or create())"),
        (["CREATE_BLOCKS_TERM"], "it changed the signal mask (SIGTERM blocked) while loading (in its initialisers or create())"),
    ])
    func aPluginWhoseCodeMisbehavesWhileLoadingIsRefusedWith78(defines: [String], reason: String) async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let cli = try CLIFixture()
        defer { cli.remove() }
        let plugin = try await fixtures.cPlugin("misbehaves.so", defines: defines)
        let refusal = "worker: error: plugin \(plugin) rejected: \(reason)"
        expectFailure(try await cli.worker(["plugins", "check", plugin], withDB: false), status: 78, mentioning: refusal)
        let job = try await cli.ok(["enqueue", "c-steps", "--payload", "\"/dev/null\""])
        let ran = try await cli.worker(["run", "--exit-when-idle", "--plugin", PluginFixtures.examples, "--plugin", plugin])
        expectFailure(ran, status: 78, mentioning: refusal)
        #expect(ran.stderr.hasSuffix("; no job was touched\n"), "\(ran.stderr)")
        let resumed = try await cli.worker(["resume", "--plugin", PluginFixtures.examples, "--plugin", plugin])
        #expect(resumed.status == 78 && resumed.stderrLines.count == 1 && resumed.stderr.hasPrefix(refusal), "\(resumed.stderr)")  // after its plan
        try await expectUntouched(job, cli)
    }

    @Test func oneCheckReportsEveryPluginEvenAfterOneCrashed() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let crashing = try await fixtures.cPlugin("crashing.so", defines: ["CONSTRUCTOR_ABORT"])
        let result = try await runProcess(ProductBinary.path("worker"), ["plugins", "check", crashing, PluginFixtures.examples])
        #expect(result.status == 78)
        #expect(result.stdout.contains("examples 1.0.0 sha256:"), "\(result.stdout)")
        #expect(result.stderrLines == ["worker: error: plugin \(crashing) rejected: it crashed while loading (signal \(SIGABRT), Aborted, in its initialisers or create()): fix it or leave it out"])
    }

    // MARK: Item 12: exit codes

    @Test func aMissingPluginIs66AndADirectoryWithoutPluginsIs78() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["migrate"])
        let missing = cli.directory.file("missing.so")
        expectFailure(try await cli.worker(["plugins", "check", missing], withDB: false), status: 66, mentioning: "plugin \(missing) not found: ")
        expectFailure(try await cli.worker(["run", "--plugin", missing]), status: 66, mentioning: "plugin \(missing) not found: ")
        expectFailure(try await cli.worker(["run", "--plugins", cli.directory.file("nowhere")]), status: 66, mentioning: "no such plugins directory")
        let empty = cli.directory.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        expectFailure(try await cli.worker(["run", "--plugins", empty, "--exit-when-idle"]), status: 78, mentioning: "no plugins in \(empty): ")
        let resumed = try await cli.worker(["resume", "--plugins", empty])
        #expect(resumed.status == 78 && resumed.stderrLines.count == 1 && resumed.stderr.contains("no plugins in \(empty): "), "\(resumed.stderr)")
        // A refused plugin beside a missing one: the refusal decides (78).
        let bogus = try { let path = cli.directory.file("bogus.so"); try "x".write(toFile: path, atomically: true, encoding: .utf8); return path }()
        let both = try await cli.worker(["plugins", "check", missing, bogus], withDB: false)
        #expect(both.status == 78, "\(both.stderr)")
    }

    // MARK: Helpers

    /// A directory `name` holding the directories `good` (with the plain C plugin) and `other` (with one whose
    /// constructor creates the returned marker file), each as `plugin.so`.
    private func swappableDirectories(
        _ fixtures: PluginFixtures, _ name: String, good: String, other: String
    ) async throws -> (directory: String, marker: String) {
        let directory = fixtures.directory.file(name), marker = fixtures.directory.file("\(other)-code-ran")
        for sub in [good, other] {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        try FileManager.default.moveItem(atPath: try await fixtures.cPlugin("good.so"), toPath: "\(directory)/\(good)/plugin.so")
        try FileManager.default.moveItem(
            atPath: try await fixtures.markingPlugin("other.so", marker: marker), toPath: "\(directory)/\(other)/plugin.so")
        return (directory, marker)
    }

    /// Starts the swapper on `a` and `b` in `directory` and waits until it swapped once.
    private func startSwapper(_ fixtures: PluginFixtures, in directory: String, _ a: String, _ b: String) async throws -> RunningWorker {
        let swapper = try await RunningWorker([directory, a, b], logPath: fixtures.directory.file("swapper.log"), executable: try await fixtures.swapper())
        #expect(await swapper.waitForLog("swapping"), "the swapper did not start: \(swapper.log)")
        return swapper
    }

    /// Expects `job` still queued, never attempted, and no worker registered.
    private func expectUntouched(_ job: String, _ cli: CLIFixture, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let stored = try #require(try await cli.json(["job", job, "--json"]) as? [String: Any], sourceLocation: sourceLocation)
        #expect(stored["state"] as? String == "queued", sourceLocation: sourceLocation)
        #expect(stored["attempts"] as? Int == 0, sourceLocation: sourceLocation)
        let status = try #require(try await cli.json(["status", "--json"]) as? [String: Any], sourceLocation: sourceLocation)
        #expect((status["workers"] as? [Any])?.isEmpty == true, "no worker registered", sourceLocation: sourceLocation)
    }
}
