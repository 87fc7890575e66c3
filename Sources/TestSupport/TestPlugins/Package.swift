// swift-tools-version: 6.2
import PackageDescription

/// Handlers only the test suites load (what a handler sees of a drain, a step that throws): a package of its own,
/// built on demand by the test kit (`PluginFixtures.testPlugins()`), so that a release build's directory holds the
/// example plugins alone and `worker run --plugins .build/release` loads nothing meant for tests.
let package = Package(
    name: "test-plugins",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "TestPlugins", type: .dynamic, targets: ["TestPlugins"]),
    ],
    dependencies: [
        .package(path: "../../../plugins/worker-plugin-sdk"),
    ],
    targets: [
        .target(
            name: "TestPlugins",
            dependencies: [.product(name: "WorkerPlugin", package: "worker-plugin-sdk")],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
                .treatAllWarnings(as: .error),
            ]
        ),
    ]
)
