import Foundation
import WorkerPluginABI
import WorkerToolchain

/// Opens a checked plugin file and validates its descriptor field by field, the way PostgreSQL checks a
/// module's magic block: each mismatch is named with both values.
enum PluginLoader {
    /// Loads the checked file open as `descriptor` (see `PluginFileCheck`): through `/proc/self/fd`, so the file
    /// loaded is the one checked whatever happened to `path` since. Once loaded, the descriptor is never closed:
    /// the loader knows the library by that name, and a later plugin opened under the same number would be taken
    /// for it.
    static func open(_ path: String, descriptor: Int32, sha256: String, services: UnsafePointer<wp_host_services>) throws -> LoadedPlugin {
        func refuse(_ reason: String) -> PluginError { PluginError(path: path, reason: reason) }
        let loaded = try PluginLoadGuard.loading(path) { dlopen("/proc/self/fd/\(descriptor)", RTLD_NOW | RTLD_LOCAL) }
        guard let library = loaded else {
            close(descriptor)
            let detail = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw refuse("dlopen failed: \(detail)")
        }
        // Never dlclose: a Swift library's runtime metadata stays registered with the process.
        guard let entry = dlsym(library, WP_ENTRY_SYMBOL) else {
            for major in 2...9 where dlsym(library, "worker_plugin_entry_v\(major)") != nil {
                throw refuse("it is built for plugin ABI major \(major), this worker speaks major \(WP_ABI_MAJOR): rebuild it against this worker's WorkerPluginABI")
            }
            throw refuse("missing entry symbol \(WP_ENTRY_SYMBOL): not a worker plugin (export it with PluginExport.descriptor)")
        }
        let function = unsafeBitCast(entry, to: wp_entry_function.self)
        guard let raw = function() else { throw refuse("its entry point returned no descriptor") }
        let descriptor = UnsafeRawPointer(raw)
        // Read magic and size before anything else: a smaller struct must not be read past its end.
        let magic = descriptor.loadUnaligned(as: UInt64.self)
        guard magic == WP_MAGIC else {
            throw refuse("wrong magic 0x\(String(magic, radix: 16)) (expected 0x\(String(WP_MAGIC, radix: 16))): not a worker plugin descriptor")
        }
        let size = descriptor.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        let major = descriptor.loadUnaligned(fromByteOffset: 12, as: UInt16.self)
        let minor = descriptor.loadUnaligned(fromByteOffset: 14, as: UInt16.self)
        guard major == WP_ABI_MAJOR else {
            throw refuse("plugin ABI major \(major).\(minor), this worker speaks \(WP_ABI_MAJOR).\(WP_ABI_MINOR): rebuild the plugin against this worker")
        }
        let needed = MemoryLayout<wp_descriptor>.size
        guard Int(size) >= needed else {
            throw refuse("descriptor is \(size) bytes, ABI \(WP_ABI_MAJOR).\(WP_ABI_MINOR) needs \(needed): rebuild the plugin")
        }
        let fields = raw.pointee
        guard let toolchainPointer = fields.toolchain else { throw refuse("descriptor has no toolchain fingerprint") }
        let toolchain = String(cString: toolchainPointer)
        if toolchain != WP_TOOLCHAIN_C && toolchain != Toolchain.fingerprint {
            throw refuse("toolchain mismatch: built with \(toolchain), this worker with \(Toolchain.fingerprint): rebuild the plugin with the worker's toolchain")
        }
        guard let namePointer = fields.name, !String(cString: namePointer).isEmpty else {
            throw refuse("descriptor has no plugin name")
        }
        let name = String(cString: namePointer)
        guard let versionPointer = fields.version else { throw refuse("plugin \(name) has no version") }
        let version = String(cString: versionPointer)
        guard fields.handler_count > 0, fields.handler_count <= 10_000, let list = fields.handlers else {
            throw refuse("plugin \(name) provides no handlers")
        }
        var handlers: [String] = []
        for index in 0..<Int(fields.handler_count) {
            guard let handler = list[index], !String(cString: handler).isEmpty else {
                throw refuse("plugin \(name) handler \(index + 1) has no name")
            }
            handlers.append(String(cString: handler))
        }
        if Set(handlers).count != handlers.count {
            throw refuse("plugin \(name) names a handler twice: \(handlers.joined(separator: ", "))")
        }
        guard let create = fields.create, fields.start != nil, fields.cancel != nil, fields.free_run != nil else {
            throw refuse("plugin \(name) descriptor lacks a function (create, start, cancel and free_run are required)")
        }
        var instance: UnsafeMutableRawPointer?
        var message = [CChar](repeating: 0, count: 512)
        let status = try PluginLoadGuard.loading(path) { create(services, &instance, &message, message.count - 1) }
        guard status == WP_OK else {
            message[message.count - 1] = 0  // whatever the plugin wrote, the text ends inside the buffer
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw refuse("plugin \(name) failed to create an instance (status \(status))\(text.isEmpty ? "" : ": \(text)")")
        }
        return LoadedPlugin(
            path: path, sha256: sha256, descriptor: raw, instance: instance, name: name, version: version,
            handlers: handlers, toolchain: toolchain)
    }
}
