import ArgumentParser
import Foundation
import WorkerStore
import WorkerRuntime

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete completed jobs (with their history, checkpoint and steps) that finished longer ago than an age, so the journal does not grow without bound.",
        discussion: "Deletes in short transactions, safe beside running workers. Dead and cancelled jobs are kept for inspection. SQLite reuses the freed pages; the file itself does not shrink.")

    @OptionGroup var database: DatabaseOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("Completed jobs that finished longer ago than this (e.g. 30d, 12h, 90m, 3600).", valueName: "AGE"), transform: Age.parse)
    var completedOlderThan: Age

    @Flag(help: "Only count what would be deleted.")
    var dryRun = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        let journal = try await database.open()
        let pruned: Int
        if dryRun {
            pruned = try await Retention.completedCount(journal, olderThan: completedOlderThan.duration)
        } else {
            let progress = Progress()
            pruned = try await Retention.pruneCompleted(journal, olderThan: completedOlderThan.duration) { total in
                progress.update("pruned \(total) job(s)")
            }
            progress.finish()
        }
        if json {
            Output.line(JSON.object([(dryRun ? "would_prune" : "pruned", .int(Int64(pruned)))]).text)
        } else {
            Output.line("\(dryRun ? "would prune" : "pruned") \(pruned) completed job(s) older than \(completedOlderThan)")
        }
    }
}
