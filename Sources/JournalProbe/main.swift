// journal-probe: a helper process for tests that need several real processes on one database.
//
//   journal-probe claim DB WORKER_ID BATCH [GO_FILE]
//                                            claims and completes jobs until none is left; prints each id
//                                            (first waits until GO_FILE exists, so that racers start together)
//   journal-probe hold-lock DB SECONDS       holds the write lock, prints "locked", exits after SECONDS
//   journal-probe exec DB SQL                runs SQL behind the journal's back (to tamper in tests)
//   journal-probe checkpoint DB              moves the WAL into the main file (so tests can damage it)
import Foundation
import GRDB
import Journal
import WorkerStore

let arguments = CommandLine.arguments
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("journal-probe: \(message)\n".utf8))
    exit(2)
}
guard arguments.count >= 3 else { fail("usage: journal-probe claim DB WORKER_ID BATCH | hold-lock DB SECONDS") }

switch arguments[1] {
case "claim":
    var options = JournalOptions()
    options.busyTimeoutSeconds = 60  // two probes take turns on the write lock; a loaded machine must not fail them
    let journal = try Journal(path: arguments[2], options: options)
    let worker = arguments[3]
    let batch = Int(arguments.count > 4 ? arguments[4] : "1") ?? 1
    try await journal.register(WorkerRegistration(
        id: worker, pid: getpid(), host: "test", processStartedAt: nil, version: "probe"))
    if arguments.count > 5 {
        while !FileManager.default.fileExists(atPath: arguments[5]) { try await Task.sleep(for: .milliseconds(1)) }
    }
    var claimed: [Int64] = []
    while true {
        let jobs = try await journal.claim(ClaimRequest(worker: worker, limit: batch))
        if jobs.isEmpty { break }
        claimed += jobs.map(\.id)
        if let only = jobs.first, jobs.count == 1 {
            _ = try await journal.finish(job: only.id, worker: worker, outcome: .completed)  // one at a time
        } else {
            _ = try await journal.finish(batch: jobs.map { ($0.id, JobOutcome.completed) }, worker: worker)
        }
    }
    try await journal.deregister(worker: worker, reason: "done")
    print(claimed.map(String.init).joined(separator: "\n"))
case "hold-lock":
    let queue = try DatabaseQueue(path: arguments[2])
    let seconds = Double(arguments[3]) ?? 1
    try queue.writeWithoutTransaction { db in
        try db.execute(sql: "BEGIN IMMEDIATE")
        FileHandle.standardOutput.write(Data("locked\n".utf8))
        Thread.sleep(forTimeInterval: seconds)
        try db.execute(sql: "ROLLBACK")
    }
case "exec":
    try DatabaseQueue(path: arguments[2]).write { db in try db.execute(sql: arguments[3]) }
case "checkpoint":
    try DatabaseQueue(path: arguments[2]).writeWithoutTransaction { db in
        _ = try Row.fetchAll(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
    }
default:
    fail("unknown mode \(arguments[1])")
}
