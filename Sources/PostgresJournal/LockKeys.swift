/// The advisory locks that say which workers are alive. A live worker's lock session holds
/// `pg_advisory_lock(LockKeys.namespace, workers.lock_key)`; PostgreSQL frees it when the session ends (the process
/// died, or the server gave up on its host), so a free lock means a dead worker, for certain.
enum LockKeys {
    /// The first half of every worker lock's key, so that the journal's locks never collide with an application's
    /// own advisory locks on the same database ("wrk" in ASCII).
    static let namespace: Int32 = 0x0077_726B

    /// SQL true when the lock of the worker whose `lock_key` is `keyColumn` is held by some session. `pg_locks`
    /// shows a two-key advisory lock with the keys in `classid` and `objid` and `objsubid` 2. Advisory locks belong
    /// to a database and `pg_locks` lists every database's: another journal on the same server has the same keys.
    static func heldSQL(keyColumn: String) -> String {
        """
        EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND classid = \(namespace)::oid AND objid = \(keyColumn)::oid)
        """
    }
}
