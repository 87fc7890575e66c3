import Foundation
import Testing
import WorkerTestKit

@Suite struct PluginsCommandTests {
    @Test func checkPrintsEachPluginAndExits0() throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let library = ProductBinary.path("libExamplePlugins.so")
        let result = try cli.worker(["plugins", "check", library], withDB: false)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("examples 1.0.0 sha256:"))
        #expect(result.stdout.contains("handlers: noop, sleep, append, fail, crash, hang"))
        let json = try #require(try JSONSerialization.jsonObject(
            with: Data(cli.worker(["plugins", "check", "--json", library], withDB: false).stdout.utf8)) as? [[String: Any]])
        #expect(json.first?["name"] as? String == "examples")
        #expect((json.first?["sha256"] as? String)?.count == 64)
    }

    @Test func aRejectedPluginGetsOneLineAndExit78() throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let bogus = cli.directory.file("bogus.so")
        try "not a library".write(toFile: bogus, atomically: true, encoding: .utf8)
        let result = try cli.worker(["plugins", "check", ProductBinary.path("libExamplePlugins.so"), bogus], withDB: false)
        #expect(result.status == 78)
        #expect(result.stderrLines == ["worker: error: plugin \(bogus) rejected: it is not a shared library (no ELF header): build it as a .dynamic library product"])
        #expect(result.stdout.contains("examples 1.0.0"))
    }

    @Test func aPinsFileMustListEveryPlugin() throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let pins = cli.directory.file("pins")
        try "\(String(repeating: "a", count: 64))  other.so\n".write(toFile: pins, atomically: true, encoding: .utf8)
        let result = try cli.worker(["plugins", "check", "--pins", pins, ProductBinary.path("libExamplePlugins.so")], withDB: false)
        expectFailure(result, status: 78, mentioning: "has no pin for libExamplePlugins.so")
    }
}
