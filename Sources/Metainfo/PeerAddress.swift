/// Where a peer listens: an IP address and a TCP port. Trackers, peer exchange and the DHT all pass peers
/// around in the compact form of BEP 23 and BEP 7: the address's network-order bytes, then the port's two.
public struct PeerAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var ip: IPAddress
    public var port: UInt16

    public init(ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// The compact bytes: 6 for IPv4, 18 for IPv6.
    public var compact: [UInt8] { ip.bytes + [UInt8(port >> 8), UInt8(port & 0xff)] }

    /// `host:port`, with an IPv6 host in brackets.
    public var description: String {
        if case .v6 = ip { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    /// Reads `host:port` as ``description`` writes it (an IPv6 host in brackets, or bare); the host must be
    /// an address, not a name, and the port 1 to 65535.
    public init?(parsing text: some StringProtocol) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard let ip = IPAddress(String(host)) else { return nil }
        self.init(ip: ip, port: port)
    }

    public static func < (lhs: PeerAddress, rhs: PeerAddress) -> Bool { (lhs.ip, lhs.port) < (rhs.ip, rhs.port) }

    /// Splits a compact list of `width`-byte entries (6 for IPv4, 18 for IPv6), keeping at most `limit`.
    /// Entries with port 0 are skipped: nobody listens there. Returns nil when the length is not a multiple
    /// of `width`, which means the list is malformed.
    public static func parseCompact(_ bytes: some Collection<UInt8>, width: Int, limit: Int = .max) -> [PeerAddress]? {
        precondition(width == 6 || width == 18, "compact peers are 6 or 18 bytes")
        guard bytes.count % width == 0 else { return nil }
        let flat = Array(bytes)
        var peers: [PeerAddress] = []
        peers.reserveCapacity(min(limit, flat.count / width))
        var start = 0
        while start < flat.count, peers.count < limit {
            let end = start + width
            let port = UInt16(flat[end - 2]) << 8 | UInt16(flat[end - 1])
            if port != 0, let ip = IPAddress(bytes: flat[start..<end - 2]) {
                peers.append(PeerAddress(ip: ip, port: port))
            }
            start = end
        }
        return peers
    }
}
