import Foundation
import WorkerStore

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func micros(_ duration: Duration) -> Micros {
    duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
}

/// A duration for log lines: "2.6 ms", "1450 ms".
func milliseconds(_ duration: Duration) -> String {
    let ms = Double(micros(duration)) / 1000
    return ms < 100 ? String(format: "%.1f ms", ms) : String(format: "%.0f ms", ms)
}
