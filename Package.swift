// swift-tools-version: 6.2
import PackageDescription

/// Settings every target of ours shares: Swift 6 mode is the default for this tools version;
/// `any` is spelled out; warnings fail the build.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "worker",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "worker", targets: ["worker"]),
        .executable(name: "bench", targets: ["bench"]),
        .executable(name: "chaos", targets: ["chaos"]),
        .library(name: "Journal", targets: ["Journal"]),
        .library(name: "WorkerStore", targets: ["WorkerStore"]),
        .library(name: "PostgresJournal", targets: ["PostgresJournal"]),
        .library(name: "ExamplePlugins", type: .dynamic, targets: ["ExamplePlugins"]),
    ],
    dependencies: [
        // The plugin SDK (WorkerPlugin, WorkerPluginABI, WorkerToolchain): a package of its own without
        // dependencies, so a plugin author's build needs nothing else of the worker's (docs/plugins.md).
        .package(path: "plugins/worker-plugin-sdk"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The seam between storage and everything above it: the store protocol and the store-neutral types
        // (jobs, states, requests, outcomes, errors with their exit class).
        .target(name: "WorkerStore", dependencies: ["Schedules"], swiftSettings: strict),
        // Cron expressions, their ticks in a time zone and the plan of which ticks fire: pure, Foundation only.
        .target(name: "Schedules", swiftSettings: strict),
        // The SQLite journal: the first (and embedded default) store.
        .target(
            name: "Journal",
            dependencies: [
                "WorkerStore", "Schedules",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift", condition: .when(platforms: [.linux])),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The PostgreSQL journal: the same store for workers on many hosts (docs/journal.md).
        .target(
            name: "PostgresJournal",
            dependencies: [
                "WorkerStore", "Schedules",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Finding, checking, loading and calling plugins: knows only the ABI and what it is handed (no store).
        .target(
            name: "PluginHost",
            dependencies: [
                .product(name: "WorkerPluginABI", package: "worker-plugin-sdk"),
                .product(name: "WorkerToolchain", package: "worker-plugin-sdk"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The contract's example handlers, one dynamic library.
        .target(
            name: "ExamplePlugins",
            dependencies: [.product(name: "WorkerPlugin", package: "worker-plugin-sdk")],
            path: "plugins/ExamplePlugins",
            swiftSettings: strict
        ),
        // The worker loop, drain, recovery at boot, supervisor integration.
        .target(
            name: "WorkerRuntime",
            dependencies: [
                "WorkerStore", "PluginHost", "Schedules",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The admin HTTP endpoint (`--admin`): health, readiness, Prometheus metrics and the dashboard (pages and /api/).
        .target(
            name: "WorkerAdmin",
            dependencies: [
                "WorkerStore", "WorkerRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The composition root of `run` and `resume`: the worker id, plugin checks and loading, sd_notify, the
        // metrics registry and the admin endpoint, assembled once.
        .target(
            name: "WorkerApp",
            dependencies: [
                "WorkerStore", "PluginHost", "WorkerAdmin", "WorkerRuntime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        // Records TERM/INT/QUIT/USR1/TSTP from before `main` until the worker's own handlers are in place.
        .target(name: "EarlySignalTrap"),
        .executableTarget(
            name: "worker",
            dependencies: [
                "EarlySignalTrap",
                "Journal",
                "PostgresJournal",
                "WorkerStore",
                "Schedules",
                "PluginHost",
                "WorkerAdmin",
                "WorkerApp",
                "WorkerRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "bench",
            dependencies: [
                "Journal",
                "PostgresJournal",
                "WorkerStore",
                "PluginHost",
                "WorkerRuntime",
                "WorkerTestKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Tools/bench",
            swiftSettings: strict
        ),
        // The chaos runner: random kills under mixed load, then the invariants (docs/reliability.md).
        .executableTarget(
            name: "chaos",
            dependencies: [
                "Journal", "PostgresJournal", "WorkerStore", "WorkerTestKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Tools/chaos",
            swiftSettings: strict
        ),
        // A test helper process: claims jobs from a shared database so tests can race real processes.
        .executableTarget(
            name: "journal-probe",
            dependencies: ["Journal", "WorkerStore", .product(name: "GRDB", package: "GRDB.swift")],
            path: "Sources/Tools/JournalProbe",
            swiftSettings: strict
        ),
        .target(
            name: "WorkerTestKit",
            dependencies: [
                "Journal", "WorkerStore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Sources/TestSupport/WorkerTestKit",
            swiftSettings: strict
        ),
        .testTarget(
            name: "JournalTests",
            dependencies: ["Journal", "WorkerStore", "WorkerTestKit", "journal-probe", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "PostgresJournalTests",
            dependencies: [
                "PostgresJournal", "WorkerStore", "WorkerTestKit", .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict
        ),
        // What `JobStore` promises, checked on every store (SQLite and PostgreSQL).
        .testTarget(
            name: "StoreContractTests",
            dependencies: ["Journal", "PostgresJournal", "WorkerStore", "Schedules", "WorkerTestKit"],
            swiftSettings: strict
        ),
        .testTarget(name: "SchedulesTests", dependencies: ["Schedules"], swiftSettings: strict),
        .testTarget(
            name: "PluginHostTests",
            dependencies: ["Journal", "WorkerStore", "PluginHost", "WorkerRuntime", "WorkerTestKit", .product(name: "Logging", package: "swift-log")],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WorkerPluginTests",
            dependencies: [
                .product(name: "WorkerPlugin", package: "worker-plugin-sdk"),
                .product(name: "WorkerPluginABI", package: "worker-plugin-sdk"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WorkerRuntimeTests",
            dependencies: [
                "Journal", "WorkerStore", "PluginHost", "WorkerRuntime", "WorkerAdmin", "WorkerTestKit", .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WorkerRunTests",
            dependencies: ["Journal", "PostgresJournal", "WorkerStore", "Schedules", "WorkerTestKit", "worker", "chaos", "journal-probe"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "WorkerCLITests",
            dependencies: ["Journal", "WorkerStore", "WorkerTestKit", "worker", "journal-probe"],
            swiftSettings: strict
        ),
    ]
)
