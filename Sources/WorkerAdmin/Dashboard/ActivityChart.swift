import Foundation
import WorkerStore

/// A bar chart of one count per minute over the last hour, drawn on the server as inline SVG (no script).
struct ActivityChart {
    let title: String
    let color: String
    /// Sixty counts, oldest minute first.
    let counts: [Int]
    /// The first minute's start.
    let start: Micros

    static let minutes = 60

    /// The three charts of the overview (completed, failed, interrupted) from `activity` rows since `start`.
    static func charts(_ activity: [ActivityMinute], since start: Micros) -> [ActivityChart] {
        var completed = [Int](repeating: 0, count: minutes)
        var failed = completed
        var interrupted = completed
        for row in activity {
            let index = Int((row.minute - start) / 60_000_000)
            guard (0..<minutes).contains(index) else { continue }
            completed[index] += row.completed
            failed[index] += row.failed
            interrupted[index] += row.interrupted
        }
        return [
            ActivityChart(title: "Completed", color: "#2e8540", counts: completed, start: start),
            ActivityChart(title: "Failed", color: "#b3261e", counts: failed, start: start),
            ActivityChart(title: "Interrupted", color: "#c77700", counts: interrupted, start: start),
        ]
    }

    var svg: String {
        let width = 360, height = 110, top = 22, bottom = 16
        let plot = height - top - bottom
        let peak = max(counts.max() ?? 0, 1)
        let bar = Double(width) / Double(counts.count)
        let total = counts.reduce(0, +)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" role=\"img\" aria-label=\"\(title) per minute, last hour\">"
        out += "<text x=\"0\" y=\"14\" font-size=\"13\" font-weight=\"600\">\(title): \(total) in the last hour</text>"
        out += "<text x=\"\(width)\" y=\"14\" font-size=\"11\" text-anchor=\"end\" fill=\"#6b7385\">peak \(counts.max() ?? 0)/min</text>"
        out += "<line x1=\"0\" y1=\"\(top + plot)\" x2=\"\(width)\" y2=\"\(top + plot)\" stroke=\"#c5cad3\"/>"
        for (index, count) in counts.enumerated() where count > 0 {
            let h = max(1, Int((Double(count) / Double(peak) * Double(plot)).rounded()))
            let x = String(format: "%.1f", Double(index) * bar)
            let w = String(format: "%.1f", max(1, bar - 1))
            let minute = DashboardFormat.time(start + Int64(index) * 60_000_000)
            out += "<rect x=\"\(x)\" y=\"\(top + plot - h)\" width=\"\(w)\" height=\"\(h)\" fill=\"\(color)\"><title>\(minute): \(count)</title></rect>"
        }
        out += "<text x=\"0\" y=\"\(height - 2)\" font-size=\"10\" fill=\"#6b7385\">-60 min</text>"
        out += "<text x=\"\(width)\" y=\"\(height - 2)\" font-size=\"10\" text-anchor=\"end\" fill=\"#6b7385\">now</text></svg>"
        return out
    }
}
