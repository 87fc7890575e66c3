import Foundation
import Synchronization

/// A progress line for long operations (bulk enqueue, resume, prune), rewritten in place on standard error when
/// it is a terminal, at most ten times a second; silent when it is not (a pipe, a file, a supervisor's log).
/// `WORKER_PROGRESS=0` turns it off on a terminal too.
final class Progress: Sendable {
    private let enabled: Bool
    /// When a line was last shown, and whether one is on screen.
    private let state = Mutex<(last: ContinuousClock.Instant?, shown: Bool)>((nil, false))

    init() {
        enabled = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["WORKER_PROGRESS"] != "0"
    }

    /// Shows `text` unless a line was shown less than 100 ms ago (`force` shows it anyway).
    func update(_ text: @autoclosure () -> String, force: Bool = false) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let due = state.withLock { state in
            if !force, let last = state.last, now - last < .milliseconds(100) { return false }
            state = (now, true)
            return true
        }
        if due { write("\r\u{1B}[K\(text())") }
    }

    /// Ends the line: the last text stays, the cursor moves to the next line.
    func finish(_ text: String? = nil) {
        guard enabled else { return }
        if let text { update(text, force: true) }
        if state.withLock({ state in defer { state.shown = false }; return state.shown }) { write("\n") }
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
