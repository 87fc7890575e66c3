/// Where `--admin` listens: `HOST:PORT`, `[IPv6]:PORT`, or just `PORT` / `:PORT` for loopback (127.0.0.1).
/// Port 0 picks a free port (the log line "admin endpoint listening on …" names it).
public struct AdminAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// Parses `text`; nil when it is not one of the forms above or the port is not 0…65535.
    public init?(_ text: String) {
        var host = "127.0.0.1"
        var portText = Substring(text)
        if text.hasPrefix("[") {  // [::1]:9090
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            portText = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":") {
            let given = text[..<colon]
            guard !given.contains(":") else { return nil }  // a bare IPv6 address needs brackets
            if !given.isEmpty { host = String(given) }
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace), let port = Int(portText), (0...65535).contains(port) else {
            return nil
        }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
