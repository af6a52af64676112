/// A tracker's announce URL taken apart: which protocol, which host and port, and (for BEP 41) the path and
/// query a UDP tracker is told.
public struct TrackerURL: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable {
        case http, https, udp
    }

    public let scheme: Scheme
    /// The host as written, without the brackets of an IPv6 literal.
    public let host: String
    public let port: Int
    /// Everything from the first `/` after the authority, or empty.
    public let pathAndQuery: String
    /// The URL as given.
    public let description: String

    /// Takes `text` apart; an unknown scheme, a missing host or a bad port is ``TrackerError/unsupported(_:)``.
    public init(_ text: String) throws(TrackerError) {
        description = text
        guard let schemeEnd = text.firstRange(of: "://"), let scheme = Scheme(rawValue: text[..<schemeEnd.lowerBound].lowercased()) else {
            throw .unsupported("'\(text)' is not an http, https or udp tracker URL")
        }
        self.scheme = scheme
        let rest = text[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        pathAndQuery = String(rest[authorityEnd...])
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var portText: Substring?
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw .unsupported("'\(text)' names no host") }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { throw .unsupported("'\(text)' has a bad port") }
            self.port = port
        } else {
            switch scheme {
            case .http: port = 80
            case .https: port = 443
            case .udp: throw .unsupported("'\(text)' has no port, which a UDP tracker needs")
            }
        }
    }
}
