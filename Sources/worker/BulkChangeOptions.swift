import ArgumentParser
import WorkerStore

/// `retry` and `cancel` over a filter instead of a job id: counted and refused unless `--yes`, listed with
/// `--dry-run`, carried out in short transactions with `--yes`.
struct BulkChangeOptions: ParsableArguments {
    @OptionGroup var selection: JobSelection

    @Flag(help: "With a filter: change every matching job the command accepts (without it, nothing changes).")
    var yes = false

    @Flag(help: "With a filter: list what would change, and change nothing.")
    var dryRun = false

    /// Refuses an id together with a filter, neither, and `--yes` with `--dry-run` or with an id.
    func check(id: Int64?, _ change: BulkChange) throws {
        let filters = "--state S, --queue Q, --handler H, --since AGE|TIME or --search TEXT"
        if id != nil, !selection.isEmpty {
            throw ValidationError("pass a job id or a filter (\(filters)), not both")
        }
        if id == nil, selection.isEmpty {
            throw ValidationError("pass a job id, or a filter (\(filters)) to \(change.rawValue) every matching job")
        }
        if yes, dryRun { throw ValidationError("--yes and --dry-run exclude each other: pass one") }
        if id != nil, yes || dryRun {
            throw ValidationError("--yes and --dry-run go with a filter: `worker \(change.rawValue) ID` changes that one job at once")
        }
    }

    /// Plans the change over the filter, then lists it (`--dry-run`), refuses it (no `--yes`: exit 64 naming the
    /// count) or carries it out.
    func run(_ change: BulkChange, journal: any JobStore, json: Bool) async throws {
        let plan = try await journal.plan(change, selection.filter())
        let done = change == .retry ? "retried" : "cancelled"
        let requestedIDs = plan.accepted.filter { $0.state == .running }.map(\.id)
        if dryRun {
            list(plan, requestedIDs: requestedIDs, json: json)
            return
        }
        guard yes else {
            let running = requestedIDs.isEmpty ? "" : " (\(requestedIDs.count) of them running: their workers are asked to stop them)"
            throw CLIError(
                .usage,
                "\(plan.matched) job(s) match: \(plan.accepted.count) would be \(done)\(running), \(BulkSkips.text(plan.skipped)); nothing changed: add --yes to \(change.rawValue) them, or --dry-run to list them")
        }
        let progress = Progress()
        let result = try await journal.apply(plan, reason: "\(done) by operator in bulk (\(selection.description))") { count in
            progress.update("\(change.rawValue): \(count) of \(plan.accepted.count) job(s)")
        }
        progress.finish()
        if json {
            var members: [(String, JSON)] = [(done, .int(Int64(result.changed)))]
            if change == .cancel { members.append(("cancel_requested", .int(Int64(result.requested)))) }
            Output.line(JSON.object(members + BulkSkips.json(result.skipped)).text)
        } else {
            let requested = change == .cancel ? ", requested cancellation of \(result.requested) running job(s)" : ""
            Output.line("\(done) \(result.changed) job(s)\(requested); \(BulkSkips.text(result.skipped))")
        }
    }

    /// `--dry-run`: a table of the jobs that would change, then the count; or one JSON object.
    private func list(_ plan: BulkPlan, requestedIDs: [Int64], json: Bool) {
        if json {
            var members: [(String, JSON)] = [
                ("count", .int(Int64(plan.accepted.count))), ("ids", .array(plan.accepted.map { .int($0.id) })),
            ]
            if plan.change == .cancel { members.append(("cancel_requested_ids", .array(requestedIDs.map(JSON.int)))) }
            Output.line(JSON.object(members + BulkSkips.json(plan.skipped)).text)
            return
        }
        let rows = plan.accepted.map { job -> [String] in
            let change = switch plan.change {
            case .retry: "-> queued"
            case .cancel: job.state == .running ? "cancel requested" : "-> cancelled"
            }
            return [String(job.id), job.state.rawValue, change]
        }
        if !rows.isEmpty {
            for line in table(["ID", "STATE", "CHANGE"], rows) { Output.line(line) }
        }
        Output.line("would \(plan.change.rawValue) \(plan.accepted.count) job(s); \(BulkSkips.text(plan.skipped))")
    }
}
