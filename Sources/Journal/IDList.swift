/// A set of job ids bound as one JSON array parameter (`id IN (SELECT value FROM json_each(?))`), so that a
/// statement's text does not depend on how many ids it takes. With `?, ?, …` lists every batch size was a
/// different statement, each prepared and cached anew: tens of MiB for a worker whose batches vary.
struct IDList {
    /// The SQL to put after `IN`.
    static let sql = "(SELECT value FROM json_each(?))"

    /// `[1,2,3]`.
    let json: String

    init(_ ids: some Sequence<Int64>) {
        json = "[" + ids.map(String.init).joined(separator: ",") + "]"
    }
}
