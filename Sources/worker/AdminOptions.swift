import ArgumentParser
import WorkerAdmin

/// The admin endpoint's options, shared by `worker run` and `worker dashboard`.
struct AdminOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Read the token the dashboard's actions need from FILE (at least 16 characters, e.g. `openssl rand -hex 32 > FILE`). Without it the dashboard is read-only.",
        valueName: "FILE"))
    var adminTokenFile: String?

    @Flag(help: "Hide payloads, checkpoints, step results and errors on the dashboard and its API, and turn off its text search.")
    var adminHidePayloads = false

    /// Refuses the dashboard's options without an endpoint to serve them.
    func check(admin: AdminAddress?) throws {
        guard admin == nil else { return }
        if adminTokenFile != nil { throw ValidationError("--admin-token-file needs --admin HOST:PORT: pass both, or neither") }
        if adminHidePayloads { throw ValidationError("--admin-hide-payloads needs --admin HOST:PORT: pass both, or neither") }
    }

    /// The dashboard's settings; reads the token file (exit 78 when unusable).
    func settings() throws -> DashboardSettings {
        DashboardSettings(token: try adminTokenFile.map(DashboardSettings.token(fromFile:)), hidePayloads: adminHidePayloads)
    }
}
