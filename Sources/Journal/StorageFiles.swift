/// The three files of a WAL-mode database (`DB`, `DB-wal`, `DB-shm`) as this process opened them.
///
/// SQLite keeps using the files it opened, whatever happens to their names. A process that opens the database
/// after one of them was deleted or replaced makes new ones, and from then on the two processes no longer see each
/// other's locks or commits: whatever the older one writes is lost, or overwrites what the newer one wrote. So a
/// journal compares the names with what it opened before every commit, and stops writing at the first difference.
struct StorageFiles: Sendable {
    /// What changed under this process.
    enum Problem: Sendable, Equatable {
        /// The database file itself was deleted (`replaced == false`) or replaced.
        case database(replaced: Bool)
        /// The WAL file was deleted or replaced, the shared-memory file was not: this process still sees every
        /// commit through its own descriptors and can copy them into the database file.
        case wal(replaced: Bool)
        /// The shared-memory file was deleted or replaced: processes opened since then keep locks and an index of
        /// their own, so nothing this process holds may be written anywhere.
        case sharedMemory(replaced: Bool)
    }

    let path: String
    private let database: DatabaseFile.Identity?
    private let wal: DatabaseFile.Identity?
    private let sharedMemory: DatabaseFile.Identity?

    /// Records the files at `path` now. Call it once the connection has read the database (SQLite opens the
    /// WAL and shared-memory files at the first read).
    init(path: String) {
        self.path = path
        database = DatabaseFile.identity(path)
        wal = DatabaseFile.identity(path + "-wal")
        sharedMemory = DatabaseFile.identity(path + "-shm")
    }

    /// The first difference from what was recorded, the most harmful first; nil while all three are the same.
    func problem() -> Problem? {
        if let changed = Self.changed(database, path) { return .database(replaced: changed) }
        if let changed = Self.changed(sharedMemory, path + "-shm") { return .sharedMemory(replaced: changed) }
        if let changed = Self.changed(wal, path + "-wal") { return .wal(replaced: changed) }
        return nil
    }

    /// Nil when the file at `name` is still `recorded` (or nothing was recorded); else whether it was replaced
    /// (true) or deleted (false).
    private static func changed(_ recorded: DatabaseFile.Identity?, _ name: String) -> Bool? {
        guard let recorded else { return nil }
        guard let now = DatabaseFile.identity(name) else { return false }
        return now == recorded ? nil : true
    }
}

extension StorageFiles.Problem {
    /// One line: what happened, what this process did about it, and what to do.
    func message(path: String, saved: String?) -> String {
        switch self {
        case .database(let replaced):
            return replaced
                ? "the database file \(path) was replaced by another file while this process had it open: it stopped writing (its writes would go to the old file); start the worker again"
                : "the database file \(path) was deleted while this process had it open: it stopped writing; restore the file from a backup (the jobs this worker held are recovered from it at the next start)"
        case .sharedMemory(let replaced):
            return "the journal's shared-memory file \(path)-shm was \(replaced ? "replaced" : "deleted") while this process had the database open: processes started since then no longer see its locks, so it stopped without writing anything more (what was committed before is kept); start the worker again, and keep cleaners away from the database's directory"
        case .wal(let replaced):
            return "the journal's WAL file \(path)-wal was \(replaced ? "replaced" : "deleted") while this process had the database open: \(saved ?? "it stopped writing"); start the worker again, and keep cleaners away from the database's directory"
        }
    }
}
