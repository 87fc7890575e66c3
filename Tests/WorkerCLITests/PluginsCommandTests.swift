import Foundation
import Testing
import WorkerTestKit

@Suite struct PluginsCommandTests {
    @Test func checkPrintsEachPluginAndExits0() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let library = ProductBinary.path("libExamplePlugins.so")
        let result = try await cli.worker(["plugins", "check", library], withDB: false)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("examples 1.0.0 sha256:"))
        #expect(result.stdout.contains("handlers: noop, sleep, append, fail, crash, hang"))
        let printed = try await cli.worker(["plugins", "check", "--json", library], withDB: false).stdout
        let json = try #require(try JSONSerialization.jsonObject(with: Data(printed.utf8)) as? [[String: Any]])
        #expect(json.first?["name"] as? String == "examples")
        #expect((json.first?["sha256"] as? String)?.count == 64)
    }

    @Test func aRejectedPluginGetsOneLineAndExit78() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let bogus = cli.directory.file("bogus.so")
        try "not a library".write(toFile: bogus, atomically: true, encoding: .utf8)
        let result = try await cli.worker(["plugins", "check", ProductBinary.path("libExamplePlugins.so"), bogus], withDB: false)
        #expect(result.status == 78)
        #expect(result.stderrLines == ["worker: error: plugin \(bogus) rejected: it is not a shared library (no ELF header): build it as a .dynamic library product"])
        #expect(result.stdout.contains("examples 1.0.0"))
    }

    @Test func aPinsFileMustListEveryPlugin() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let pins = cli.directory.file("pins")
        try "\(String(repeating: "a", count: 64))  other.so\n".write(toFile: pins, atomically: true, encoding: .utf8)
        let result = try await cli.worker(["plugins", "check", "--pins", pins, ProductBinary.path("libExamplePlugins.so")], withDB: false)
        expectFailure(result, status: 78, mentioning: "has no pin for libExamplePlugins.so")
    }
}

@Suite struct PluginsCheckFixtureTests {
    @Test(arguments: [
        (["NO_ENTRY"], "missing entry symbol worker_plugin_entry_v1"),
        (["WRONG_MAGIC"], "wrong magic"),
        (["ABI_MAJOR_PLUS_ONE"], "built for plugin ABI major 2, this worker speaks major 1"),
        (["CREATE_FAILS"], "failed to create an instance (status -1): no license key in the environment"),
    ])
    func eachBrokenPluginStopsTheCheckWithExit78(defines: [String], reason: String) async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let path = try await fixtures.cPlugin("broken.so", defines: defines)
        let result = try await runProcess(ProductBinary.path("worker"), ["plugins", "check", path])
        expectFailure(result, status: 78, mentioning: "plugin \(path) rejected: ")
        #expect(result.stderr.contains(reason), "\(result.stderr)")
    }

    @Test(arguments: ["run", "resume"])
    func aPluginThatCrashesInCreateIsNamedAndNoJobIsTouched(command: String) async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let cli = try CLIFixture()
        defer { cli.remove() }
        let crashing = try await fixtures.cPlugin("crashing.so", defines: ["CREATE_CRASHES"])
        let job = try await cli.ok(["enqueue", "noop"])
        let result = try await cli.worker([command, "--plugin", PluginFixtures.examples, "--plugin", crashing])
        #expect(result.status == 78, "\(result.stderr)")
        #expect(result.stderrLines == ["worker: error: plugin \(crashing) rejected: it crashed while loading (signal \(SIGABRT), Aborted, in its initialisers or create()): fix it or leave it out; no job was touched"], "\(result.stderr)")
        let stored = try #require(try await cli.json(["job", job, "--json"]) as? [String: Any])
        #expect(stored["state"] as? String == "queued")
        let status = try #require(try await cli.json(["status", "--json"]) as? [String: Any])
        #expect((status["workers"] as? [Any])?.isEmpty == true, "no worker registered")
    }

    @Test func aWorldWritablePluginAndAnEscapingSymlinkAreRefused() async throws {
        let fixtures = try PluginFixtures()
        let elsewhere = try PluginFixtures()
        defer { fixtures.remove(); elsewhere.remove() }
        let writable = try await fixtures.cPlugin("writable.so")
        chmod(writable, 0o666)
        expectFailure(try await runProcess(ProductBinary.path("worker"), ["plugins", "check", writable]), status: 78, mentioning: "world-writable")
        let link = fixtures.directory.file("link.so")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: try await elsewhere.cPlugin("real.so"))
        expectFailure(try await runProcess(ProductBinary.path("worker"), ["plugins", "check", link]), status: 78, mentioning: "is a symlink to")
        let truncated = try fixtures.copy(PluginFixtures.examples, to: "truncated.so", limit: 8192)
        expectFailure(try await runProcess(ProductBinary.path("worker"), ["plugins", "check", truncated]), status: 78, mentioning: "truncated or damaged")
    }
}
