import Metainfo

/// The two DHTs of BEP 32. They are separate networks: a node keeps one routing table for each.
public enum AddressFamily: Sendable, Hashable, CaseIterable {
    case v4
    case v6

    /// The family of `ip`; an IPv4-mapped IPv6 address belongs to IPv4.
    public init(_ ip: IPAddress) {
        if case .v4 = ip.unmapped { self = .v4 } else { self = .v6 }
    }

    /// The size of one compact node: 20 bytes of id, then 6 (IPv4) or 18 (IPv6) bytes of address and port.
    public var compactNodeLength: Int { self == .v4 ? 26 : 38 }
}

/// A DHT node as the protocol passes it around: its id and the UDP address it answers at.
public struct NodeInfo: Sendable, Hashable, CustomStringConvertible {
    public var id: NodeID
    public var address: PeerAddress

    public init(id: NodeID, address: PeerAddress) {
        self.id = id
        self.address = address
    }

    /// The address family of the node's address.
    public var family: AddressFamily { AddressFamily(address.ip) }

    /// "Compact node info" (BEP 5, BEP 32): the id, then the compact address and port.
    public var compact: [UInt8] { id.bytes + address.compact }

    public var description: String { "\(id.hex)@\(address)" }

    /// Splits a compact node list of `family`'s width. Returns nil when the length is not a whole multiple of
    /// the width. Nodes with port 0 are dropped: nothing can be sent there.
    public static func parseCompact(_ bytes: [UInt8], family: AddressFamily) -> [NodeInfo]? {
        let width = family.compactNodeLength
        guard bytes.count % width == 0 else { return nil }
        var nodes: [NodeInfo] = []
        nodes.reserveCapacity(bytes.count / width)
        var start = 0
        while start < bytes.count {
            let idEnd = start + NodeID.byteCount
            let end = start + width
            let port = UInt16(bytes[end - 2]) << 8 | UInt16(bytes[end - 1])
            if port != 0, let id = NodeID(bytes: bytes[start..<idEnd]), let ip = IPAddress(bytes: bytes[idEnd..<end - 2]) {
                nodes.append(NodeInfo(id: id, address: PeerAddress(ip: ip, port: port)))
            }
            start = end
        }
        return nodes
    }
}
