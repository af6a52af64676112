import Metainfo

/// BEP 42: node ids tied to the node's external address, so that nobody can place many nodes right next to an
/// info-hash of their choice without controlling many addresses.
///
/// The first 21 bits of a secure id are the first 21 bits of CRC-32C over the masked address with a 3-bit
/// random number `r` folded in; the id's last byte carries `r` in its low 3 bits.
extension NodeID {
    /// A random id that is secure for `ip` (an IPv4-mapped IPv6 address counts as its IPv4 address).
    public static func secure(for ip: IPAddress, using generator: inout some RandomNumberGenerator) -> NodeID {
        var bytes = NodeID.random(using: &generator).bytes
        let r = bytes[19] & 0x07
        let crc = securePrefix(for: ip, r: r)
        bytes[0] = UInt8(truncatingIfNeeded: crc >> 24)
        bytes[1] = UInt8(truncatingIfNeeded: crc >> 16)
        bytes[2] = UInt8(truncatingIfNeeded: crc >> 8) & 0xf8 | bytes[2] & 0x07
        // Twenty bytes in, twenty bytes out.
        return NodeID(bytes: bytes) ?? .zero
    }

    /// Whether this id follows BEP 42 for `ip`. Says nothing about exempt addresses: callers check
    /// ``Metainfo/IPAddress/isExemptFromSecureNodeID`` first, as the BEP exempts local networks.
    public func isSecure(for ip: IPAddress) -> Bool {
        let id = bytes
        let crc = Self.securePrefix(for: ip, r: id[19] & 0x07)
        return id[0] == UInt8(truncatingIfNeeded: crc >> 24)
            && id[1] == UInt8(truncatingIfNeeded: crc >> 16)
            && id[2] & 0xf8 == UInt8(truncatingIfNeeded: crc >> 8) & 0xf8
    }

    /// Whether a node at `ip` may use this id: the address is exempt, or the id is secure for it.
    public func isAcceptable(for ip: IPAddress) -> Bool {
        ip.isExemptFromSecureNodeID || isSecure(for: ip)
    }

    /// CRC-32C of the masked address with `r` in its top bits: 4 bytes for IPv4, the top 8 for IPv6.
    static func securePrefix(for ip: IPAddress, r: UInt8) -> UInt32 {
        switch ip.unmapped {
        case .v4(let value):
            let masked = value & 0x030f_3fff | UInt32(r & 0x07) << 29
            return CRC32C.checksum((0..<4).map { UInt8(truncatingIfNeeded: masked >> (24 - 8 * $0)) })
        case .v6(let value):
            let masked = UInt64(truncatingIfNeeded: value >> 64) & 0x0103_070f_1f3f_7fff | UInt64(r & 0x07) << 61
            return CRC32C.checksum((0..<8).map { UInt8(truncatingIfNeeded: masked >> (56 - 8 * $0)) })
        }
    }
}

extension IPAddress {
    /// Whether BEP 42 exempts this address from the node id check: the IPv4 blocks the BEP lists (10/8,
    /// 172.16/12, 192.168/16, 169.254/16, 127/8) and, as libtorrent reads it, their IPv6 counterparts (loopback
    /// ::1, link-local fe80::/10, unique local fc00::/7).
    public var isExemptFromSecureNodeID: Bool {
        isLocalNetwork
    }
}
