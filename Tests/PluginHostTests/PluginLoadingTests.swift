import Foundation
import Logging
import PluginHost
import Testing
import WorkerTestKit

@Suite struct PluginLoadingTests {
    static func refusal(_ path: String) -> String? {
        do {
            _ = try PluginHost.open(path)
            return nil
        } catch let error as PluginError {
            return error.reason
        } catch {
            return "\(error)"
        }
    }

    @Test func theExamplePluginsLoadWithTheirSixHandlers() async throws {
        let plugin = try PluginHost.open(PluginFixtures.examples)
        #expect(plugin.name == "examples")
        #expect(plugin.version == "1.0.0")
        #expect(Set(plugin.handlers) == ["noop", "sleep", "append", "fail", "crash", "hang"])
        #expect(plugin.sha256.count == 64)
    }

    @Test func theCPluginLoads() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let plugin = try PluginHost.open(try await fixtures.cPlugin("c.so"))
        #expect(plugin.name == "c-fixture")
        #expect(plugin.handlers == ["c-steps"])
        #expect(plugin.toolchain == "c")
    }

    @Test(arguments: [
        (["NO_ENTRY"], "missing entry symbol worker_plugin_entry_v1"),
        (["WRONG_MAGIC"], "wrong magic 0x1234"),
        (["ABI_MAJOR_PLUS_ONE"], "built for plugin ABI major 2, this worker speaks major 1"),
        (["CREATE_FAILS"], "failed to create an instance (status -1): no license key in the environment"),
    ])
    func aBrokenPluginIsRefusedWithItsOwnReason(defines: [String], reason: String) async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let path = try await fixtures.cPlugin("bad.so", defines: defines)
        let refusal = Self.refusal(path)
        #expect(refusal?.contains(reason) == true, "\(refusal ?? "accepted")")
    }

    @Test func filesThatAreNotLibrariesAreRefusedBeforeDlopen() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let text = try fixtures.file("notes.so", text: "this is not a library\n")
        #expect(Self.refusal(text)?.contains("not a shared library (no ELF header)") == true)
        let truncated = try fixtures.copy(PluginFixtures.examples, to: "truncated.so", limit: 4096)
        #expect(Self.refusal(truncated)?.contains("the file is truncated or damaged") == true, "\(Self.refusal(truncated) ?? "accepted")")
        let cut = try fixtures.copy(PluginFixtures.examples, to: "cut.so", limit: 40)
        #expect(Self.refusal(cut)?.contains("no ELF header") == true)
        #expect(Self.refusal(fixtures.directory.file("missing.so"))?.contains("missing.so does not exist: check the path") == true)
    }

    @Test func writableFilesAndDirectoriesAreRefused() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let path = try await fixtures.cPlugin("c.so")
        chmod(path, 0o666)
        #expect(Self.refusal(path)?.contains("the file is world-writable") == true, "\(Self.refusal(path) ?? "accepted")")
        chmod(path, 0o664)
        #expect(Self.refusal(path)?.contains("the file is group-writable") == true)
        chmod(path, 0o755)
        chmod(fixtures.directory.path, 0o777)
        defer { chmod(fixtures.directory.path, 0o755) }
        #expect(Self.refusal(path)?.contains("its directory \(fixtures.directory.path) is world-writable") == true)
    }

    @Test func aSymlinkLeavingThePluginDirectoryIsRefused() async throws {
        let fixtures = try PluginFixtures()
        let elsewhere = try PluginFixtures()
        defer { fixtures.remove(); elsewhere.remove() }
        let outside = try await elsewhere.cPlugin("real.so")
        let link = fixtures.directory.file("link.so")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: outside)
        #expect(Self.refusal(link)?.contains("is a symlink to \(outside), outside") == true, "\(Self.refusal(link) ?? "accepted")")
        let inside = try await fixtures.cPlugin("inside.so")
        let localLink = fixtures.directory.file("local.so")
        try FileManager.default.createSymbolicLink(atPath: localLink, withDestinationPath: inside)
        #expect(Self.refusal(localLink) == nil)
    }

    @Test func ancestorsAreCheckedAndSymlinksOnTheWayFollowedThroughCheckedDirectories() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let path = try await fixtures.cPlugin("c.so")
        // A world-writable directory on the way is refused unless it is sticky (as /tmp is).
        let link = fixtures.directory.file("via")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: fixtures.directory.path)
        #expect(Self.refusal(link + "/c.so") == nil, "\(Self.refusal(link + "/c.so") ?? "")")
        #expect(Self.refusal(fixtures.directory.path + "/../" + (fixtures.directory.path as NSString).lastPathComponent + "/c.so") == nil)
        let middle = fixtures.directory.file("open")
        try FileManager.default.createDirectory(atPath: middle + "/inner", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: path, toPath: middle + "/inner/c.so")
        chmod(middle, 0o777)
        #expect(Self.refusal(middle + "/inner/c.so")?.contains("its directory \(middle) is world-writable (mode 777)") == true)
        chmod(middle, 0o1777)
        #expect(Self.refusal(middle + "/inner/c.so") == nil, "a sticky directory is like /tmp: \(Self.refusal(middle + "/inner/c.so") ?? "")")
        chmod(middle, 0o775)
        #expect(Self.refusal(middle + "/inner/c.so")?.contains("its directory \(middle) is group-writable") == true)
        chmod(middle, 0o755)
        // A FIFO named like a plugin is refused without blocking the open.
        let fifo = fixtures.directory.file("fifo.so")
        mkfifo(fifo, 0o644)
        #expect(Self.refusal(fifo)?.contains("not a regular file") == true)
        #expect(Self.refusal(fixtures.directory.file("none/c.so"))?.contains("does not exist") == true)
    }

    @Test func aPinnedHashMustMatch() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let path = try await fixtures.cPlugin("c.so")
        let digest = try PluginHost.open(path).sha256
        let good = try fixtures.file("pins", text: "\(digest)  c.so\n")
        #expect(try PluginHost.open(path, pins: PluginPins(file: good)).sha256 == digest)
        let wrong = String(repeating: "0", count: 64)
        let bad = try fixtures.file("pins-bad", text: "\(wrong)  c.so\n")
        let reason = (try? PluginHost.open(path, pins: PluginPins(file: bad))).map { _ in "accepted" } ?? {
            do { _ = try PluginHost.open(path, pins: PluginPins(file: bad)); return "accepted" } catch { return "\(error)" }
        }()
        #expect(reason.contains("its SHA-256 is \(digest) but \(bad) pins \(wrong)"), "\(reason)")
        let other = try fixtures.file("pins-other", text: "\(digest)  other.so\n")
        #expect(throws: PluginError.self) { try PluginHost.open(path, pins: PluginPins(file: other)) }
    }

    @Test func twoPluginsProvidingOneHandlerAreRefused() async throws {
        let fixtures = try PluginFixtures()
        defer { fixtures.remove() }
        let first = try await fixtures.cPlugin("one.so", defines: ["HANDLER=\"dup\""])
        let second = try await fixtures.cPlugin("two.so", defines: ["HANDLER=\"dup\""])
        #expect {
            try PluginHost.load(files: [first, second], logger: Logger(label: "test"))
        } throws: { error in
            (error as? PluginError)?.reason.contains("handler 'dup' is already provided by plugin c-fixture (\(first))") == true
        }
    }
}
