/// The fingerprint of the Swift toolchain a binary was compiled with, compared between the worker and a Swift
/// plugin: Swift has no stable ABI across compiler versions for the SDK's types, so a mismatch must be refused
/// with a clear error instead of crashing later. Both sides compute it at compile time from the same source.
public enum Toolchain {
    /// For example `swift-6.3.1 x86_64-linux`.
    public static let fingerprint = "\(compiler) \(architecture)-\(system)"

    static var compiler: String {
        #if compiler(>=6.4)
        return "swift-6.4+"
        #elseif compiler(>=6.3.1)
        return "swift-6.3.1"
        #elseif compiler(>=6.3)
        return "swift-6.3"
        #elseif compiler(>=6.2)
        return "swift-6.2"
        #else
        return "swift-6.1-or-older"
        #endif
    }

    static var architecture: String {
        #if arch(x86_64)
        return "x86_64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown-arch"
        #endif
    }

    static var system: String {
        #if os(Linux)
        return "linux"
        #elseif os(macOS)
        return "macos"
        #else
        return "unknown-os"
        #endif
    }
}
