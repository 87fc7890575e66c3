import WorkerPlugin

// The plugin's export: its name, version and handlers.
@_cdecl("worker_plugin_entry_v1") public func workerPluginEntry() -> UnsafeRawPointer {
    PluginExport.descriptor(name: "examples", version: "1.0.0", handlers: [Noop.self, Sleep.self, Append.self, Fail.self, Crash.self, Hang.self])
}
