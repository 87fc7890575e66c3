import Foundation
import WorkerStore

/// How the dashboard writes values for people.
enum DashboardFormat {
    /// `2026-12-06 17:40:12Z`: to the second, UTC.
    static func time(_ micros: Micros?) -> String {
        guard let micros else { return "-" }
        let text = iso8601(micros)
        guard let dot = text.firstIndex(of: ".") else { return text.replacingOccurrences(of: "T", with: " ") }
        return text[..<dot].replacingOccurrences(of: "T", with: " ") + "Z"
    }

    /// `4 s`, `3 min`, `2 h 5 min`, `3 d 4 h`.
    static func age(_ seconds: Double) -> String {
        let s = Int(max(0, seconds))
        switch s {
        case ..<120: return "\(s) s"
        case ..<7200: return "\(s / 60) min"
        case ..<172_800: return "\(s / 3600) h \((s % 3600) / 60) min"
        default: return "\(s / 86400) d \((s % 86400) / 3600) h"
        }
    }

    /// The first `limit` characters of `text` on one line, with `…` when cut.
    static func snippet(_ text: String?, limit: Int = 120) -> String {
        guard let text else { return "" }
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count > limit ? String(line.prefix(limit)) + "…" : line
    }

    /// A path segment with everything but unreserved characters percent-encoded.
    static func pathSegment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
    }

    /// What replaces a hidden payload, checkpoint or error.
    static let hidden = "(hidden: --admin-hide-payloads)"
}
