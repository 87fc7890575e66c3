import WorkerPlugin

// Handlers the test suites use beyond the contract's examples.
@_cdecl("worker_plugin_entry_v1") public func workerPluginEntry() -> UnsafeRawPointer {
    PluginExport.descriptor(name: "test-plugins", version: "1.0.0", handlers: [DrainProbe.self, StepThrows.self])
}
