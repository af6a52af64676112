import Metainfo
import Testing
@testable import DHT

@Suite struct NodeIDTests {
    @Test("Bytes, hex and info-hash conversions agree; wrong lengths are refused")
    func conversions() throws {
        let hex = "000102030405060708090a0b0c0d0e0f10111213"
        let id = try #require(NodeID(hex: hex))
        #expect(id.bytes == Array(0..<20))
        #expect(id.description == hex)
        #expect(NodeID(id.infoHash) == id)
        #expect(NodeID(bytes: [UInt8](repeating: 0, count: 19)) == nil)
        #expect(NodeID(bytes: [UInt8](repeating: 0, count: 21)) == nil)
    }

    @Test("XOR distance, ordering by bytes and common prefix lengths")
    func distance() throws {
        let a = try #require(NodeID(hex: "ff00000000000000000000000000000000000000"))
        let b = try #require(NodeID(hex: "ff00000000000000000000000000000000000001"))
        let c = try #require(NodeID(hex: "7f00000000000000000000000000000000000000"))
        #expect(a.distance(to: b) == NodeID(hex: "0000000000000000000000000000000000000001"))
        #expect(a.distance(to: a) == .zero)
        #expect(a.commonPrefixLength(with: b) == 159)
        #expect(a.commonPrefixLength(with: c) == 0)
        #expect(a.commonPrefixLength(with: a) == 160)
        #expect(c < a && a < b)
        // Bit 130 lives in the low word.
        #expect(NodeID.zero.flippingBit(at: 130).commonPrefixLength(with: .zero) == 130)
        #expect(NodeID.zero.flippingBit(at: 130).bit(at: 130))
    }

    @Test("A randomized id keeps exactly the prefix asked for", arguments: [0, 1, 7, 64, 127, 128, 131, 159, 160])
    func randomizedPrefix(length: Int) {
        var generator = SplitMix64(seed: UInt64(length))
        let base = NodeID.random(using: &generator)
        for _ in 0..<20 {
            let id = base.randomized(keepingPrefix: length, using: &generator)
            #expect(id.commonPrefixLength(with: base) >= length)
        }
    }

    @Test("CRC-32C matches the standard check value")
    func crc32c() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test("BEP 42 test vectors", arguments: [
        ("124.31.75.21", "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401"),
        ("21.75.31.124", "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256"),
        ("65.23.51.170", "a5d43220bc8f112a3d426c84764f8c2a1150e616"),
        ("84.124.73.14", "1b0321dd1bb1fe518101ceef99462b947a01ff41"),
        ("43.213.53.83", "e56f6cbf5b7c4be0237986d5243b87aa6d51305a"),
    ])
    func bep42Vectors(address: String, hex: String) throws {
        let ip = try #require(IPAddress(address))
        let id = try #require(NodeID(hex: hex))
        #expect(id.isSecure(for: ip))
        let crc = NodeID.securePrefix(for: ip, r: id.bytes[19] & 7)
        #expect(crc >> 11 == UInt32(id.bytes[0]) << 13 | UInt32(id.bytes[1]) << 5 | UInt32(id.bytes[2] >> 3))
        // The same id is not secure for a neighbouring address whose masked bits differ.
        #expect(!id.isSecure(for: try #require(IPAddress("\(address.split(separator: ".").prefix(3).joined(separator: ".")).\(ip.bytes[3] ^ 0xff)"))))
        #expect(!id.flippingBit(at: 20).isSecure(for: ip))
    }

    @Test("Secure ids generated for IPv4 and IPv6 addresses pass the check")
    func generatedIDs() throws {
        var generator = SplitMix64(seed: 42)
        for text in ["203.0.113.9", "8.8.8.8", "2001:db8::1", "2a00:1450:4001:81c::200e", "::ffff:198.51.100.7"] {
            let ip = try #require(IPAddress(text))
            for _ in 0..<10 { #expect(NodeID.secure(for: ip, using: &generator).isSecure(for: ip)) }
            #expect(!NodeID.secure(for: ip, using: &generator).flippingBit(at: 0).isSecure(for: ip))
        }
    }

    @Test("Local addresses are exempt from BEP 42; public ones are not", arguments: [
        ("10.1.2.3", true), ("172.16.0.1", true), ("172.31.255.255", true), ("172.32.0.1", false),
        ("192.168.1.1", true), ("169.254.3.4", true), ("127.0.0.1", true), ("::ffff:127.0.0.1", true),
        ("::1", true), ("fe80::1", true), ("fd00::5", true), ("8.8.8.8", false), ("2001:db8::1", false),
    ])
    func exemptions(address: String, exempt: Bool) throws {
        let ip = try #require(IPAddress(address))
        #expect(ip.isExemptFromSecureNodeID == exempt)
        #expect(NodeID.zero.isAcceptable(for: ip) == (exempt || NodeID.zero.isSecure(for: ip)))
    }
}
