import Foundation
import Testing
import WorkerTestKit

@Suite struct BadInputTests {
    @Test(arguments: StoreKind.allCases, [
        (["enqueue", "noop", "--frob"], Int32(64), "--frob"),
        (["enqueue", "noop", "--payload", "{not json"], 65, "not valid JSON"),
        (["enqueue", "noop", "--payload", "\"0123456789\"", "--max-payload-bytes", "8"], 65, "over the limit of 8"),
        (["enqueue", ""], 64, "handler name is empty"),
        (["enqueue", "noop", "--delay", "5", "--at", "2030-01-01T00:00:00Z"], 64, "exclude each other"),
        (["enqueue", "noop", "--at", "tomorrow"], 64, "ISO 8601"),
        (["enqueue", "noop", "--delay", "-1"], 64, "--delay"),
        (["enqueue", "noop", "--max-attempts", "0"], 64, "--max-attempts"),
        (["enqueue", "noop", "--payloads-from", "/nonexistent/file.jsonl"], 66, "/nonexistent/file.jsonl"),
        (["job", "12345"], 65, "no job with id 12345"),
        (["retry", "12345"], 65, "no job with id 12345"),
        (["cancel", "12345"], 65, "no job with id 12345"),
        (["jobs", "--state", "sleeping"], 64, "sleeping"),
        (["frobnicate"], 64, "frobnicate"),
        (["enqueue", "noop", "--synchronous", "sometimes"], 64, "sometimes"),
        (["jobs", "--state", "bogus"], 64, "scheduled, queued, running, retrying, interrupted, completed, dead, cancelled"),
        (["enqueue", "noop", "--queue", ""], 64, "queue name is empty: pass a queue name such as default"),
        (["enqueue", "noop", "--payload", String(repeating: "[", count: 1001) + String(repeating: "]", count: 1001)], 65,
         "payload is nested deeper than 1000 levels"),
        (["enqueue", "noop", "--payload", "{\"a\": " + String(repeating: "{\"b\": ", count: 5000) + "1" + String(repeating: "}", count: 5001)], 65,
         "payload is nested deeper than 1000 levels"),
    ])
    func badInputGetsOneLineAndItsExitCodeAndWritesNothing(store: StoreKind, input: ([String], Int32, String)) async throws {
        let (arguments, status, mentioning) = input
        let cli = try await CLIFixture.make(store)
        defer { cli.remove() }
        try await cli.ok(["migrate"])
        expectFailure(try await cli.worker(arguments), status: status, mentioning: mentioning)
        #expect((try await cli.json(["stats", "--json"]) as? [String: Int])?.values.reduce(0, +) == 0)
    }

    @Test func aSingleEnqueueIsNotCalledAJobOfABatchAndAnEmptyQueueGetsNoHandlerHint() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        for arguments in [["enqueue", "noop", "--payload", "{bad"], ["enqueue", "noop", "--queue", ""], ["enqueue", "noop", "--key", ""]] {
            let result = try await cli.worker(arguments)
            #expect(result.status == 64 || result.status == 65)
            #expect(!result.stderr.contains("of the batch"), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("e.g. noop"), "\(arguments): \(result.stderr)")
        }
        // A bulk enqueue names the line instead.
        let bulk = try await cli.worker(["enqueue", "noop", "--payloads-from", "-"], stdin: "{}\n{bad\n")
        expectFailure(bulk, status: 65, mentioning: "line 2 of standard input: payload is not valid JSON")
        #expect(!bulk.stderr.contains("of the batch"))
    }

    @Test func deepButAllowedJSONIsEnqueued() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let deep = String(repeating: "[", count: 1000) + #""[[[ not nesting ]]]""# + String(repeating: "]", count: 1000)
        #expect(try await cli.ok(["enqueue", "noop", "--payload", deep]) == "1")
        let tooDeep = String(repeating: "[", count: 1001) + String(repeating: "]", count: 1001)
        let bulk = try await cli.worker(["enqueue", "noop", "--payloads-from", "-"], stdin: "{}\n\(tooDeep)\n")
        expectFailure(bulk, status: 65, mentioning: "line 2 of standard input: payload is nested deeper than 1000 levels")
    }

    @Test func invalidUTF8IsRefusedWithItsOffsetNeverReplaced() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["migrate"])
        let worker = ProductBinary.path("worker")
        // Arguments reach the worker through the shell: Foundation's Process takes only valid Unicode.
        func shell(_ script: String) async throws -> ProcessResult {
            try await runProcess("/bin/sh", ["-c", script], environment: ["W": worker, "DB": cli.db])
        }
        expectFailure(try await shell(#"exec "$W" enqueue noop --db "$DB" --payload "$(printf '{"a": "\377x"}')""#),
                      status: 65, mentioning: "the value of --payload is not valid UTF-8 (byte 0xFF at offset 7)")
        expectFailure(try await shell(#"exec "$W" enqueue noop --db "$DB" --payload="$(printf '["\300\257"]')""#),
                      status: 65, mentioning: "the value of --payload is not valid UTF-8 (byte 0xC0 at offset 2)")
        expectFailure(try await shell(#"exec "$W" enqueue noop --db "$DB" --key "$(printf 'k\355\240\200')""#),
                      status: 64, mentioning: "the value of --key is not valid UTF-8 (byte 0xED at offset 1)")
        expectFailure(try await shell(#"exec "$W" enqueue "$(printf 'no\377op')" --db "$DB""#),
                      status: 64, mentioning: "argument 2 is not valid UTF-8 (byte 0xFF at offset 2)")
        expectFailure(try await shell(#"WORKER_DB="$(printf '/tmp/w\377.sqlite3')" exec "$W" stats"#),
                      status: 78, mentioning: "WORKER_DB is not valid UTF-8 (byte 0xFF at offset 6)")

        // In a payloads file and on standard input: the line and the offset, nothing of the batch enqueued.
        let file = cli.directory.file("payloads.jsonl")
        try Data("{\"n\": 1}\n{\"n\": \"\u{E9}".utf8 + [0xE9] + Data("\"}\n{\"n\": 3}\n".utf8)).write(to: URL(fileURLWithPath: file))
        expectFailure(try await cli.worker(["enqueue", "noop", "--payloads-from", file]), status: 65,
                      mentioning: "line 2 of \(file) is not valid UTF-8 (byte 0xE9 at offset 9)")
        let stdin = try await shell(#"exec "$W" enqueue noop --db "$DB" --payloads-from - --batch-size 1 < "$F""#.replacingOccurrences(of: "$F", with: file))
        #expect(stdin.status == 65 && stdin.stdout == "1\n" && stdin.stderrLines == [
            "worker: error: line 2 of standard input is not valid UTF-8 (byte 0xE9 at offset 9): fix its encoding; the 1 jobs before line 2 were enqueued, nothing from that line on",
        ], "\(stdin)")
        let jobs = try #require(try await cli.json(["jobs", "--json"]) as? [[String: Any]])
        #expect(jobs.count == 1 && (jobs.first?["payload"] as? [String: Int]) == ["n": 1])
    }

    @Test func aMissingDatabaseDirectoryIsNamed() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let result = try await cli.worker(["enqueue", "noop", "--db", cli.directory.file("no/such/dir/w.sqlite3")], withDB: false)
        expectFailure(result, status: 66, mentioning: cli.directory.file("no/such/dir"))
    }

    @Test func aFileThatIsNotADatabaseIsRefusedUntouched() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let text = "just some text\n"
        try text.write(toFile: cli.db, atomically: true, encoding: .utf8)
        expectFailure(try await cli.worker(["stats"]), status: 74, mentioning: "is not a SQLite database")
        #expect(try String(contentsOfFile: cli.db, encoding: .utf8) == text)
    }

    @Test func aDatabaseOfANewerWorkerIsRefusedWithExit78() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["migrate"])
        let sql = try await runProcess(ProductBinary.path("journal-probe"), ["exec", cli.db, "INSERT INTO grdb_migrations VALUES ('0999_future')"])
        #expect(sql.status == 0)
        expectFailure(try await cli.worker(["enqueue", "noop"]), status: 78, mentioning: "upgrade this worker binary")
    }

    @Test func aDatabaseLockedPastTheBusyTimeoutExits75() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["migrate"])
        // Holds the lock far longer than the test needs, however slow a loaded machine is; ended below.
        let holder = try await startProcess(ProductBinary.path("journal-probe"), ["hold-lock", cli.db, "120"], outputPath: cli.directory.file("lock"))
        defer { holder.signal(SIGKILL) }
        let deadline = ContinuousClock.now + .seconds(60)
        while (try? String(contentsOfFile: cli.directory.file("lock"), encoding: .utf8))?.contains("locked") != true {
            try #require(ContinuousClock.now < deadline && holder.isAlive, "journal-probe did not take the lock")
            try await Task.sleep(for: .milliseconds(10))
        }
        let result = try await cli.worker(["enqueue", "noop", "--busy-timeout", "0.2"])
        expectFailure(result, status: 75, mentioning: "locked by another process")
        holder.signal(SIGKILL)
        #expect(await holder.waitForExit(timeout: .seconds(60)) != nil)
        #expect(try await cli.ok(["enqueue", "noop"]) == "1")  // nothing of the refused enqueue was written
    }

    @Test(.enabled("needs root to mount a read-only tmpfs", canMount))
    func aReadOnlyDirectoryOrDatabaseExits74() async throws {
        let worker = ProductBinary.path("worker")
        let dir = try TemporaryDirectory("ro")
        defer { dir.remove() }
        let result = try await inMountNamespace("""
            mount -t tmpfs -o size=4m tmpfs \(dir.path) || exit 99
            mount -o remount,ro \(dir.path)
            \(worker) enqueue noop --db \(dir.path)/new.sqlite3; echo "missing-db=$?"
            mount -o remount,rw \(dir.path)
            \(worker) enqueue noop --db \(dir.path)/w.sqlite3 >/dev/null
            mount -o remount,ro \(dir.path)
            \(worker) enqueue noop --db \(dir.path)/w.sqlite3; echo "existing-db=$?"
            """)
        #expect(result.stdout.contains("missing-db=74"), "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("existing-db=74"), "\(result.stdout) \(result.stderr)")
        #expect(result.stderrLines.count == 2)
        #expect(result.stderrLines.allSatisfy { $0.hasPrefix("worker: error: ") && $0.contains("read-only") || $0.contains("writ") })
    }

    @Test(.enabled("needs root to mount a small tmpfs", canMount))
    func aFullDiskExits74AndKeepsWhatWasCommitted() async throws {
        let worker = ProductBinary.path("worker")
        let dir = try TemporaryDirectory("full")
        defer { dir.remove() }
        let payloads = dir.file("payloads.jsonl")
        let line = #"{"text": "\#(String(repeating: "x", count: 200))"}"#
        try Array(repeating: line, count: 20_000).joined(separator: "\n").write(toFile: payloads, atomically: true, encoding: .utf8)
        let mnt = dir.file("mnt")
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let result = try await inMountNamespace("""
            mount -t tmpfs -o size=1m tmpfs \(mnt) || exit 99
            \(worker) enqueue noop --db \(mnt)/w.sqlite3 --payloads-from \(payloads) --batch-size 500 > \(dir.file("ids")); echo "enqueue=$?"
            \(worker) journal verify --db \(mnt)/w.sqlite3 >/dev/null; echo "verify=$?"
            \(worker) stats --json --db \(mnt)/w.sqlite3
            """)
        #expect(result.stdout.contains("enqueue=74"), "\(result.stdout) \(result.stderr)")
        #expect(result.stdout.contains("verify=0"), "\(result.stdout) \(result.stderr)")
        #expect(result.stderrLines.count == 1)
        #expect(result.stderr.contains("disk full"))
        let printed = try String(contentsOfFile: dir.file("ids"), encoding: .utf8).split(separator: "\n").count
        #expect(printed > 0 && printed % 500 == 0 && printed < 20_000)
        #expect(result.stdout.contains(#"{"scheduled":0,"queued":\#(printed),"#), "\(result.stdout)")
    }

    @Test func aCorruptDatabaseIsReportedNotCrashedOn() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        let lines = (1...3000).map { #"{"n": \#($0), "pad": "\#(String(repeating: "x", count: 40))"}"# }
        try await cli.ok(["enqueue", "noop", "--payloads-from", "-"], stdin: lines.joined(separator: "\n"))
        #expect(try await runProcess(ProductBinary.path("journal-probe"), ["checkpoint", cli.db]).status == 0)
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: cli.db))
        // Page 37: in the run of `jobs` table leaves (pages 33-40) after the schema's root pages (21-23: 0005's
        // indexes; 24-27: 0006's tables; 28-32: 0007's schedules, with a schema page among them; mostly free
        // space, where damage goes unnoticed), with slack for a few more root pages. The layout:
        // `SELECT name, pageno FROM dbstat ORDER BY pageno`.
        try file.seek(toOffset: 4096 * 36 + 100)
        file.write(Data(repeating: 0xFF, count: 3000))
        try file.close()
        let verify = try await cli.worker(["journal", "verify"])
        #expect(verify.status == 74)
        #expect(verify.stdout.contains("integrity: "))
        #expect(verify.stderrLines.count == 1)
        let listing = try await cli.worker(["jobs", "--limit", "3000"])
        #expect(listing.status == 74, "\(listing.stderr)")
        #expect(listing.stderr.contains("is corrupt"))
        #expect(listing.stderrLines.count == 1)
    }

    @Test func aValueWrittenOutsideTheSchemaIsReportedNotCrashedOn() async throws {
        let cli = try CLIFixture()
        defer { cli.remove() }
        try await cli.ok(["enqueue", "noop"])
        #expect(try await runProcess(ProductBinary.path("journal-probe"), ["exec", cli.db, "UPDATE jobs SET run_at = 'soon'"]).status == 0)
        expectFailure(try await cli.worker(["job", "1"]), status: 74, mentioning: #"database value "soon" - column: "run_at""#)
    }
}

/// The disk filling up under a running worker.
@Suite struct FullDiskUnderAWorkerTests {
    @Test(.enabled("needs root to mount a small tmpfs", canMount))
    func aDiskFillingUpUnderARunningWorkerEndsInExit74OrADrainAndNothingIsCorrupted() async throws {
        let worker = ProductBinary.path("worker")
        let dir = try TemporaryDirectory("fullrun")
        defer { dir.remove() }
        let mnt = dir.file("mnt")
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let db = "\(mnt)/w.sqlite3"
        let log = dir.file("worker.log")
        // Inside one mount namespace: a 2 MiB tmpfs, a worker on it running a job, the disk filled, an enqueue
        // refused, TERM; then space freed, the journal verified and everything worked off.
        let result = try await inMountNamespace("""
            mount -t tmpfs -o size=2m tmpfs \(mnt) || exit 99
            \(worker) enqueue sleep --payload '{"ms": 3000}' --db \(db) > /dev/null
            \(worker) run --db \(db) --plugin \(PluginFixtures.examples) --drain-timeout 1 > \(log) 2>&1 &
            pid=$!
            i=0; until grep -q "sleep started" \(log); do sleep 0.05; i=$((i+1)); [ $i -gt 600 ] && break; done
            dd if=/dev/zero of=\(mnt)/fill bs=4k > /dev/null 2>&1
            \(worker) enqueue noop --db \(db) > /dev/null 2> \(dir.file("enqueue.err")); echo "enqueue=$?"
            sleep 1
            kill -TERM $pid; wait $pid; echo "worker=$?"
            rm \(mnt)/fill
            \(worker) journal verify --db \(db) > \(dir.file("verify.out")); echo "verify=$?"
            \(worker) run --db \(db) --plugin \(PluginFixtures.examples) --exit-when-idle > /dev/null 2>&1; echo "rerun=$?"
            \(worker) journal verify --db \(db) > /dev/null; echo "reverify=$?"
            \(worker) stats --json --db \(db)
            """)
        let out = result.stdout
        #expect(out.contains("enqueue=74"), "\(out) \(result.stderr)")
        #expect(try String(contentsOfFile: dir.file("enqueue.err"), encoding: .utf8).contains("disk full"))
        // The worker either fit its last writes into space it already had (a drain, exit 0) or hit the full disk
        // (exit 74, with one line saying so); never anything else.
        let workerLog = try String(contentsOfFile: log, encoding: .utf8)
        if out.contains("worker=74") {
            #expect(workerLog.contains("worker: error: ") && workerLog.contains("full"), "\(workerLog.suffix(800))")
        } else {
            #expect(out.contains("worker=0"), "\(out) \(workerLog.suffix(800))")
        }
        // Sound, except (after exit 74) for the job the dead worker still holds, which the next start recovers.
        let findings = try String(contentsOfFile: dir.file("verify.out"), encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("finding: ") }
        #expect(out.contains("verify=0") || (out.contains("verify=65") && out.contains("worker=74") && findings.count == 1
            && findings.allSatisfy { $0.contains("which is dead (its lock is free)") }), "\(out) \(findings)")
        #expect(out.contains("rerun=0"), "\(out)")
        #expect(out.contains("reverify=0"), "\(out)")
        #expect(out.contains(#""running":0"#) && out.contains(#""completed":1"#), "\(out)")
    }
}
