import Foundation

/// The binaries next to the runner.
enum ChaosPaths {
    static var directory: String {
        ProcessInfo.processInfo.environment["WORKER_BUILD_DIR"]
            ?? URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
    }
    static var worker: String { "\(directory)/worker" }
    static var examples: String { "\(directory)/libExamplePlugins.so" }
}
