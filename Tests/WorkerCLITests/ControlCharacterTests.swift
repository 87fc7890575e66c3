import Foundation
import Testing
import WorkerTestKit

/// Text a user or a plugin controls (payload, key, queue, handler name, an error a plugin threw) reaches text
/// output and text logs escaped, and `--json` exactly.
@Suite struct ControlCharacterTests {
    /// Clears the screen, rings the bell, forges a log line, reorders what follows on screen.
    static let hostile = "\u{1B}[2J\u{07}\njob 99 completed\r\u{9B}31m\u{7F}\u{85}\u{2028}\u{202E}x\tz"

    @Test func textOutputEscapesWhatJSONKeepsExactly() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let payload = try String(decoding: JSONSerialization.data(withJSONObject: ["text": Self.hostile]), as: UTF8.self)
        try await cli.ok(["enqueue", "noop", "--payload", payload, "--key", Self.hostile])
        // Names the worker refuses can still be written by another program sharing the database.
        try await Self.rename(cli, handler: Self.hostileHandlerSQL, queue: "'q' || char(8238) || char(8294) || 'x'")
        let queue = "q\u{202E}\u{2066}x"

        for arguments in [["job", "1"], ["jobs"], ["jobs", "--queue", queue], ["status"], ["stats"]] {
            let result = try await cli.worker(arguments)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            expectNoRawControls(result.stdout, "\(arguments)")
            #expect(!result.stdout.split(separator: "\n").contains { $0.hasPrefix("job 99") }, "\(arguments): \(result.stdout)")
        }
        let shown = try await cli.ok(["job", "1"])
        #expect(shown.contains(#"\u{1B}[2J\u{7}\njob 99 completed\r\u{9B}31m\u{7F}\u{85}\u{2028}\u{202E}x\tz"#), "\(shown)")

        for arguments in [["job", "1", "--json"], ["jobs", "--json"], ["status", "--json"]] {
            expectNoRawControls(try await cli.ok(arguments), "\(arguments)")
        }
        let job = try #require(try await cli.json(["job", "1", "--json"]) as? [String: Any])
        #expect(job["unique_key"] as? String == Self.hostile)
        #expect(job["queue"] as? String == queue)
        #expect(job["handler"] as? String == Self.hostileHandler)
        #expect((job["payload"] as? [String: Any])?["text"] as? String == Self.hostile)
        let status = try #require(try await cli.json(["status", "--json"]) as? [String: Any])
        #expect((status["queues"] as? [String: Any])?.keys.contains(queue) == true)
    }

    /// A handler name with ESC, BEL and a forged line, as SQL (the worker itself refuses such names).
    static let hostileHandlerSQL = "'h' || char(27) || '[2J' || char(7) || char(10) || 'job 99 completed'"
    static let hostileHandler = "h\u{1B}[2J\u{07}\njob 99 completed"

    /// Sets every job's handler and queue to SQL expressions, as another program writing the database could.
    static func rename(_ cli: CLIFixture, handler: String, queue: String = "queue") async throws {
        let sql = "UPDATE jobs SET handler = \(handler), queue = \(queue)"
        let result = try await runProcess(ProductBinary.path("journal-probe"), ["exec", cli.db, sql])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test func aHandlerNameWrittenByAnotherProgramIsEscapedInTheRunLog() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop"])
        try await Self.rename(cli, handler: Self.hostileHandlerSQL)
        // No plugin provides the handler: the worker logs that its jobs stay queued, naming it.
        let log = cli.directory.file("run.log")
        let worker = try await startProcess(ProductBinary.path("worker"), ["run", "--db", cli.db, "--plugin", PluginFixtures.examples], outputPath: log)
        defer { worker.signal(SIGKILL) }
        var text = ""
        let deadline = ContinuousClock.now + .seconds(120)  // only against a hang; the line comes within a second
        while !text.contains("stay queued") {
            try #require(ContinuousClock.now < deadline && worker.isAlive, "no line about the missing handler: \(text)")
            try await Task.sleep(for: .milliseconds(20))
            text = (try? String(contentsOfFile: log + ".err", encoding: .utf8)) ?? ""
        }
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(timeout: .seconds(60)) != nil)
        text = try String(contentsOfFile: log + ".err", encoding: .utf8)
        #expect(text.contains(#"jobs for handler 'h\u{1B}[2J\u{7}\njob 99 completed' stay queued"#), "\(text)")
        expectNoRawControls(text, "text log")
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("job 99") }, "\(text)")
        let stats = try await cli.ok(["stats"])  // its WAITING FOR HANDLER table
        expectNoRawControls(stats, "stats")
        #expect(stats.contains(#"h\u{1B}[2J\u{7}\njob 99 completed"#), "\(stats)")
    }

    @Test func aPayloadWithRawDELAndC1CharactersStaysExactInJSON() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        // SQLite takes DEL and C1 characters raw inside JSON strings; the output escapes them, meaning the same.
        let payload = "{\"a\": \"x\u{7F}\u{9B}2J\u{2028}y\",\n \"b\": [1,\t2]}"
        try await cli.ok(["enqueue", "noop", "--payload", payload])
        let printed = try await cli.ok(["job", "1", "--json"])
        expectNoRawControls(printed, "job --json")
        let job = try #require(try JSONSerialization.jsonObject(with: Data(printed.utf8)) as? [String: Any])
        let read = try #require(job["payload"] as? [String: Any])
        #expect(read["a"] as? String == "x\u{7F}\u{9B}2J\u{2028}y")
        #expect(read["b"] as? [Int] == [1, 2])
    }

    @Test func anErrorQuotingControlCharactersStaysOneLine() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["migrate"])
        let result = try await cli.worker(["enqueue", "bad\u{1B}[2J\nname"])
        expectFailure(result, status: 64, mentioning: #"'bad\u{1B}[2J\nname'"#)
        expectNoRawControls(result.stderr, "stderr")
    }

    @Test func aPluginErrorCarryingControlCharactersIsEscapedInTheTextLogAndExactInTheJournal() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        // The example `crash` handler refuses an unknown "how" with an error quoting it.
        let payload = try String(decoding: JSONSerialization.data(withJSONObject: ["how": Self.hostile]), as: UTF8.self)
        try await cli.ok(["enqueue", "crash", "--payload", payload])
        let run = try await cli.worker(["run", "--plugin", PluginFixtures.examples, "--exit-when-idle"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains(#"running -> dead"#) && run.stderr.contains(#"how is '\u{1B}[2J\u{7}\njob 99 completed"#), "\(run.stderr)")
        expectNoRawControls(run.stderr, "text log")
        #expect(!run.stderrLines.contains { $0.hasPrefix("job 99") })

        let job = try #require(try await cli.json(["job", "1", "--json"]) as? [String: Any])
        #expect(job["state"] as? String == "dead")
        #expect((job["last_error"] as? String)?.contains("how is '\(Self.hostile)'") == true, "\(String(describing: job["last_error"]))")
        let shown = try await cli.ok(["job", "1"])
        expectNoRawControls(shown, "job 1")
        #expect(shown.contains(#"last error  how is '\u{1B}[2J"#), "\(shown)")

        // The same run logging JSON: every line is one JSON object, the error text in it exact.
        try await cli.ok(["enqueue", "crash", "--payload", payload])
        let json = try await cli.worker(["run", "--plugin", PluginFixtures.examples, "--exit-when-idle", "--log-format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        expectNoRawControls(json.stderr, "JSON log")
        let messages = try json.stderrLines.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")["message"] as? String ?? ""
        }
        #expect(messages.contains { $0.contains("how is '\(Self.hostile)'") }, "\(json.stderr)")
    }
}

/// Expects `text` to hold no character a terminal acts on, but the line breaks between lines.
func expectNoRawControls(_ text: String, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let found = text.unicodeScalars.filter { scalar in
        switch scalar.value {
        case 0x0A: false
        case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }
    #expect(found.isEmpty, "\(what) holds raw \(found.map { String(format: "U+%04X", $0.value) }): \(text.debugDescription)", sourceLocation: sourceLocation)
}
