import WorkerStore

/// Runs `body` and returns the journal error code it threw, or nil when it did not throw one (`internalError` for
/// an error of another kind): for the tests of every store.
public func journalErrorCode(_ body: () async throws -> Void) async -> JournalError.Code? {
    do {
        try await body()
        return nil
    } catch let error as JournalError {
        return error.code
    } catch {
        return .internalError
    }
}
