import ArgumentParser
import Logging
import WorkerAdmin
import WorkerApp

/// `worker dashboard --admin HOST:PORT`: serves the dashboard (and /healthz, /readyz, /metrics) on a journal
/// without running any job, until TERM or INT.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve the dashboard on the admin endpoint without running jobs, until TERM or INT.")

    @OptionGroup var database: DatabaseOptions

    @Option(parsing: .unconditional, help: ArgumentHelp(
        "Where to serve the dashboard, /healthz, /readyz and /metrics; a bare port listens on loopback.", valueName: "HOST:PORT"),
        transform: AdminAddress.parse)
    var admin: AdminAddress

    @OptionGroup var adminOptions: AdminOptions

    func run() async throws {
        let signals = await EarlySignals.take()
        let settings = try adminOptions.settings()
        let journal = try await database.open()
        try await DashboardProcess.run(
            journal: journal, address: admin, settings: settings, signals: signals, logger: Logger(label: "worker"))
    }
}
