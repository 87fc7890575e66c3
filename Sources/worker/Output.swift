import Foundation
import WorkerStore

/// Buffered standard output: one write per 64 KiB, flushed before exit.
enum Output {
    nonisolated(unsafe) private static var buffer: [UInt8] = []  // only the main command task writes here

    /// Writes `text` and a line break. Control characters in it are escaped (`ControlEscaping`): whatever data
    /// a line quotes, it stays one line and cannot drive the terminal. JSON lines have none left to escape.
    /// `worker: note: TEXT` on standard error (after what standard output holds so far).
    static func note(_ text: String) {
        flush()
        FileHandle.standardError.write(Data("worker: note: \(ControlEscaping.escape(text))\n".utf8))
    }

    /// `worker: warning: TEXT` on standard error (after what standard output holds so far).
    static func warning(_ text: String) {
        flush()
        FileHandle.standardError.write(Data("worker: warning: \(ControlEscaping.escape(text))\n".utf8))
    }

    static func line(_ text: String) {
        buffer.append(contentsOf: ControlEscaping.escape(text).utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 16 { flush() }
    }

    static func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDOUT_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    break
                }
                offset += written
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Left-aligned columns for terminal tables.
func table(_ header: [String], _ rows: [[String]]) -> [String] {
    let rows = rows.map { $0.map(ControlEscaping.escape) }  // widths of what is shown
    var widths = header.map(\.count)
    for row in rows {
        for (index, cell) in row.enumerated() where index < widths.count {
            widths[index] = max(widths[index], cell.count)
        }
    }
    func format(_ cells: [String]) -> String {
        cells.enumerated().map { index, cell in
            index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
    return [format(header)] + rows.map(format)
}
