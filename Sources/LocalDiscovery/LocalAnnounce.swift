import Metainfo

/// Why a datagram on the local discovery port is not a usable announce.
public struct LocalAnnounceError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A BEP 14 local service discovery announce: "I take peers on this port for these torrents", sent by
/// multicast to the local network as an HTTP-like request.
public struct LocalAnnounce: Sendable, Hashable {
    /// The port the sender accepts peer connections on.
    public var port: UInt16
    /// The (wire) info-hashes of the torrents announced.
    public var infoHashes: [SHA1Hash]
    /// An opaque value by which a sender recognises its own announces coming back.
    public var cookie: String?

    public init(port: UInt16, infoHashes: [SHA1Hash], cookie: String? = nil) {
        self.port = port
        self.infoHashes = infoHashes
        self.cookie = cookie
    }

    /// BEP 14: an announce with several info-hashes should stay under 1400 bytes, against fragmentation.
    public static let maxSize = 1400
    /// Info-hashes read from one announce (more than fit in ``maxSize`` are never sent).
    public static let maxInfoHashes = 24
    /// Header lines read from one announce.
    static let maxLines = 40

    /// The IPv4 group and port (org-local scope).
    public static let groupV4 = "239.192.152.143"
    /// The IPv6 group (site-local scope).
    public static let groupV6 = "ff15::efc0:988f"
    public static let groupPort = 6771

    /// The datagram, sent to the group named by `host` (``groupV4`` or ``groupV6``).
    public func encoded(host: String) -> [UInt8] {
        var text = "BT-SEARCH * HTTP/1.1\r\nHost: \(host.contains(":") ? "[\(host)]" : host):\(Self.groupPort)\r\nPort: \(port)\r\n"
        for hash in infoHashes { text += "Infohash: \(hash.hex)\r\n" }
        if let cookie { text += "cookie: \(cookie)\r\n" }
        return Array((text + "\r\n\r\n").utf8)
    }

    /// Reads a datagram. Header names are matched without regard to case and unknown headers ignored (it is
    /// HTTP); a datagram over ``maxSize`` bytes, without the request line, a port or an info-hash is refused.
    /// Info-hashes that are not 40 hex digits are skipped; at most ``maxInfoHashes`` are kept.
    public init(parsing datagram: some Collection<UInt8>) throws(LocalAnnounceError) {
        guard datagram.count <= Self.maxSize else { throw LocalAnnounceError("\(datagram.count) bytes, over \(Self.maxSize)") }
        let lines = datagram.split(separator: UInt8(ascii: "\n"), maxSplits: Self.maxLines, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self).trimmingSuffix("\r") }
        guard lines.first == "BT-SEARCH * HTTP/1.1" else { throw LocalAnnounceError("not a BT-SEARCH request") }
        var port: UInt16?
        var hashes: [SHA1Hash] = []
        var cookie: String?
        for line in lines.dropFirst().prefix(Self.maxLines) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            switch name {
            case "port":
                port = UInt16(value).flatMap { $0 == 0 ? nil : $0 }
            case "infohash":
                if hashes.count < Self.maxInfoHashes, let hash = SHA1Hash(hex: String(value)), !hashes.contains(hash) { hashes.append(hash) }
            case "cookie":
                cookie = String(value.prefix(64))
            default:
                continue
            }
        }
        guard let port else { throw LocalAnnounceError("no usable Port header") }
        guard !hashes.isEmpty else { throw LocalAnnounceError("no usable Infohash header") }
        self.init(port: port, infoHashes: hashes, cookie: cookie)
    }
}

private extension String {
    func trimmingSuffix(_ suffix: String) -> String { hasSuffix(suffix) ? String(dropLast(suffix.count)) : self }
}
