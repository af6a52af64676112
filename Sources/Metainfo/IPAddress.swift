#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as a value: what peers, trackers and the DHT are reached at.
public enum IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt128)

    /// Parses dotted IPv4 (`192.0.2.1`) or any textual IPv6 form (`2001:db8::1`, `::ffff:192.0.2.1`).
    public init?(_ text: some StringProtocol) {
        var v4 = in_addr()
        var v6 = in6_addr()
        let string = String(text)
        if inet_pton(AF_INET, string, &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr))
        } else if inet_pton(AF_INET6, string, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            self = .v6(bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
        } else {
            return nil
        }
    }

    /// An address from its 4 or 16 network-order bytes (compact peer lists, `yourip`).
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4: self = .v4(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        case 16: self = .v6(bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
        default: return nil
        }
    }

    /// The network-order bytes.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value): (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        case .v6(let value): (0..<16).map { UInt8(truncatingIfNeeded: value >> (120 - 8 * $0)) }
        }
    }

    /// Whether this is an IPv4 address (an IPv4-mapped IPv6 address is not: see ``unmapped``).
    public var isV4: Bool {
        if case .v4 = self { true } else { false }
    }

    /// This machine, a private network or a link: 127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, ::1, fe80::/10
    /// and fc00::/7.
    public var isLocalNetwork: Bool {
        switch unmapped {
        case .v4(let value):
            value >> 24 == 10 || value >> 20 == 0xac1 || value >> 16 == 0xc0a8 || value >> 16 == 0xa9fe || value >> 24 == 127
        case .v6(let value):
            value == 1 || value >> 118 == 0x3fa || value >> 121 == 0x7e
        }
    }

    /// 127.0.0.0/8 or ::1: this machine.
    public var isLoopback: Bool {
        switch unmapped {
        case .v4(let value): value >> 24 == 127
        case .v6(let value): value == 1
        }
    }

    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as the IPv4 address it carries; others unchanged.
    public var unmapped: IPAddress {
        if case .v6(let value) = self, value >> 32 == 0xffff { return .v4(UInt32(truncatingIfNeeded: value)) }
        return self
    }

    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch self {
        case .v4(let value):
            var address = in_addr(s_addr: value.bigEndian)
            inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
        case .v6:
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): a < b
        case (.v6(let a), .v6(let b)): a < b
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }
}
