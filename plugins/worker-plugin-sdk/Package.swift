// swift-tools-version: 6.2
import PackageDescription

/// The plugin SDK: what a plugin author's package builds, and nothing else. It has no dependencies, so a plugin's
/// build resolves and compiles only these three small targets, never the worker's own (SQLite, HTTP, crypto...).
///
/// A plugin depends on it by path. SwiftPM names a path dependency after its directory, so the directory and the
/// package share one name and the product line is the same wherever the worker is checked out:
///
/// ```swift
/// .package(path: "../worker/plugins/worker-plugin-sdk"),
/// .product(name: "WorkerPlugin", package: "worker-plugin-sdk"),
/// ```

/// The worker's settings (see the root Package.swift): `any` is spelled out; warnings fail the build.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "worker-plugin-sdk",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "WorkerPlugin", targets: ["WorkerPlugin"]),
        .library(name: "WorkerPluginABI", targets: ["WorkerPluginABI"]),
        .library(name: "WorkerToolchain", targets: ["WorkerToolchain"]),
    ],
    targets: [
        // The plugin boundary: one C header, the only thing that crosses between the worker and a plugin.
        .target(name: "WorkerPluginABI"),
        // The toolchain fingerprint the worker and a Swift plugin compare.
        .target(name: "WorkerToolchain", swiftSettings: strict),
        // The Swift SDK plugin authors import.
        .target(
            name: "WorkerPlugin",
            dependencies: ["WorkerPluginABI", "WorkerToolchain"],
            swiftSettings: strict
        ),
    ]
)
