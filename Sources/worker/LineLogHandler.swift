import Logging

/// What the worker's log handlers share: a label, a level, the logger's metadata, and one line per event with
/// the logger's and the event's metadata merged (the event's wins), sorted by key.
protocol LineLogHandler: LogHandler {
    var metadata: Logger.Metadata { get set }
}

extension LineLogHandler {
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The metadata of a line: the logger's and `event`'s, sorted by key.
    func lineMetadata(_ event: LogEvent) -> [(key: String, value: String)] {
        metadata.merging(event.metadata ?? [:]) { _, new in new }.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
    }
}
