import NIOCore
import Synchronization

/// The admin endpoint's open connections, capped (`AdminLimits.maxConnections`). Over the cap, the oldest
/// connection that is not in the middle of a request gives way to the new one: a flood of half-open or idle
/// connections then churns through itself while a prober's connection, which sends its request at once, gets
/// in and is answered. Connections come from several event loops, hence the lock.
final class ConnectionTable: Sendable {
    private struct Entry {
        let channel: any Channel
        let serial: UInt64
        var busy: Bool
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var nextSerial: UInt64 = 0
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Admits `channel`, evicting (closing) the oldest connection without a request under way when the table
    /// is full. False when every connection is busy: the caller closes `channel`.
    func admit(_ channel: any Channel) -> Bool {
        let (admitted, victim) = state.withLock { state -> (Bool, (any Channel)?) in
            var victim: (any Channel)?
            if state.entries.count >= capacity {
                guard let oldest = state.entries.filter({ !$0.value.busy }).min(by: { $0.value.serial < $1.value.serial }) else {
                    return (false, nil)
                }
                state.entries[oldest.key] = nil
                victim = oldest.value.channel
            }
            state.entries[ObjectIdentifier(channel)] = Entry(channel: channel, serial: state.nextSerial, busy: false)
            state.nextSerial += 1
            return (true, victim)
        }
        victim?.close(promise: nil)
        return admitted
    }

    /// Marks `channel` as in the middle of a request (not evicted) or not.
    func setBusy(_ channel: any Channel, _ busy: Bool) {
        state.withLock { $0.entries[ObjectIdentifier(channel)]?.busy = busy }
    }

    /// Forgets `channel` (it closed).
    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.entries.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Connections open now.
    var count: Int { state.withLock { $0.entries.count } }
}
