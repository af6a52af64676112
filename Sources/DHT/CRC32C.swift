/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the hash BEP 42 ties node ids to addresses with.
///
/// Written here because no package Shoal may depend on provides it (swift-crypto has hashes, not CRCs). BEP 42
/// only ever hashes 4 or 8 bytes, so a byte-at-a-time table is plenty.
enum CRC32C {
    /// One entry per byte value: the remainder of that byte shifted through the polynomial.
    private static let table: [UInt32] = (0..<256).map { byte in
        var remainder = UInt32(byte)
        for _ in 0..<8 { remainder = remainder & 1 == 1 ? remainder >> 1 ^ 0x82F6_3B78 : remainder >> 1 }
        return remainder
    }

    /// The checksum of `bytes`.
    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc = ~UInt32(0)
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ crc >> 8 }
        return ~crc
    }
}
