import PluginHost
import Synchronization

/// A one-way switch, set from another task.
final class Flag: Sendable {
    private let value = Mutex(false)

    var isSet: Bool { value.withLock { $0 } }

    func set() { value.withLock { $0 = true } }
}

/// Outcomes handed over by plugin threads, taken by the dispatcher loop.
final class Arrivals: Sendable {
    private let list = Mutex<[(Int64, PluginOutcome)]>([])

    func append(_ id: Int64, _ outcome: PluginOutcome) {
        list.withLock { $0.append((id, outcome)) }
    }

    func take() -> [(Int64, PluginOutcome)] {
        list.withLock { list in
            defer { list.removeAll(keepingCapacity: true) }
            return list
        }
    }
}
