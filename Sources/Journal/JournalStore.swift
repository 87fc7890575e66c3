import WorkerStore

/// The SQLite journal is the first `JobStore`. What only SQLite has stays here, below the seam: the header
/// check, WAL settings, the inotify watch on the WAL file, the kernel-lock liveness and the integrity check.
extension Journal: JobStore {
    public var location: String { path }

    public func commitWatch(wake: @escaping @Sendable () -> Void) -> (any CommitWatch)? {
        PeerCommitWatch(walPath: PeerCommitWatch.walPath(ofDatabase: path), wake: wake)
    }
}
