import WorkerStore

/// The PostgreSQL journal is a `JobStore`: its methods are in the files named after what they do (Enqueue,
/// OperatorCommands, BulkChanges, Prune, Inspect, Overview, RuntimeQueries, Verify, Workers, Claims, Checkpoints,
/// Steps, Watch).
extension PostgresJournal: JobStore {}
