import Metainfo

/// A DHT node id: 160 bits in the same space as v1 info-hashes (BEP 5).
///
/// Stored as two integers rather than an array, so that the XOR metric, comparison and prefix lengths, which a
/// routing table and a lookup compute constantly, cost a few instructions and no allocation.
public struct NodeID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The number of bytes in an id.
    public static let byteCount = 20
    /// The number of bits in an id, and so the most buckets a routing table can have.
    public static let bitCount = 160

    /// Bytes 0 to 15, big-endian.
    private var high: UInt128
    /// Bytes 16 to 19, big-endian.
    private var low: UInt32

    private init(high: UInt128, low: UInt32) {
        self.high = high
        self.low = low
    }

    /// All zero bits: the smallest id, and the distance from an id to itself.
    public static let zero = NodeID(high: 0, low: 0)

    /// An id from exactly 20 bytes, or nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var high: UInt128 = 0
        var low: UInt32 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 16 { high = high << 8 | UInt128(byte) } else { low = low << 8 | UInt32(byte) }
        }
        self.init(high: high, low: low)
    }

    /// An id from 40 hex digits of either case.
    public init?(hex: some StringProtocol) {
        guard let bytes = decodeHex(hex) else { return nil }
        self.init(bytes: bytes)
    }

    /// The id with the same bits as an info-hash: what `get_peers` and `announce_peer` look up.
    public init(_ infoHash: SHA1Hash) {
        // SHA1Hash always holds exactly 20 bytes.
        var high: UInt128 = 0
        var low: UInt32 = 0
        for index in 0..<16 { high = high << 8 | UInt128(infoHash.storage[index]) }
        for index in 16..<20 { low = low << 8 | UInt32(infoHash.storage[index]) }
        self.init(high: high, low: low)
    }

    /// A uniformly random id.
    public static func random(using generator: inout some RandomNumberGenerator) -> NodeID {
        NodeID(high: UInt128(generator.next() as UInt64) << 64 | UInt128(generator.next() as UInt64),
               low: generator.next())
    }

    /// The 20 bytes, big-endian.
    public var bytes: [UInt8] {
        (0..<16).map { UInt8(truncatingIfNeeded: high >> (120 - 8 * $0)) }
            + (0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * $0)) }
    }

    /// The same bits as an info-hash.
    public var infoHash: SHA1Hash {
        var storage = SIMD32<UInt8>()
        for (index, byte) in bytes.enumerated() { storage[index] = byte }
        return SHA1Hash(storage: storage)
    }

    /// Lowercase hex.
    public var hex: String { encodeHex(bytes) }

    public var description: String { hex }

    /// The Kademlia distance: the bitwise XOR of the two ids, itself compared as a 160-bit number.
    public func distance(to other: NodeID) -> NodeID {
        NodeID(high: high ^ other.high, low: low ^ other.low)
    }

    /// How many leading bits the two ids share (160 when they are equal). In a routing table, a node's
    /// bucket is the common prefix length of its id and ours, capped by the number of buckets.
    public func commonPrefixLength(with other: NodeID) -> Int {
        let difference = distance(to: other)
        if difference.high != 0 { return difference.high.leadingZeroBitCount }
        return 128 + min(difference.low.leadingZeroBitCount, 32)
    }

    /// Whether bit `index` (0 is the most significant) is set.
    public func bit(at index: Int) -> Bool {
        precondition((0..<Self.bitCount).contains(index), "bit index out of range")
        if index < 128 { return high >> (127 - index) & 1 == 1 }
        return low >> (159 - index) & 1 == 1
    }

    /// The id with bit `index` (0 is the most significant) inverted.
    public func flippingBit(at index: Int) -> NodeID {
        precondition((0..<Self.bitCount).contains(index), "bit index out of range")
        if index < 128 { return NodeID(high: high ^ (1 << (127 - index)), low: low) }
        return NodeID(high: high, low: low ^ (1 << (159 - index)))
    }

    /// A random id whose first `prefixLength` bits are this id's: a target inside a routing-table bucket,
    /// which is how a stale bucket is refreshed (BEP 5).
    public func randomized(keepingPrefix prefixLength: Int, using generator: inout some RandomNumberGenerator) -> NodeID {
        precondition((0...Self.bitCount).contains(prefixLength), "prefix length out of range")
        let noise = NodeID.random(using: &generator)
        let (keepHigh, keepLow) = Self.prefixMask(prefixLength)
        return NodeID(high: high & keepHigh | noise.high & ~keepHigh, low: low & keepLow | noise.low & ~keepLow)
    }

    /// Masks with the first `length` bits set, across the two halves.
    private static func prefixMask(_ length: Int) -> (UInt128, UInt32) {
        let highBits = min(length, 128)
        let lowBits = max(length - 128, 0)
        let high: UInt128 = highBits == 0 ? 0 : ~UInt128(0) << (128 - highBits)
        let low: UInt32 = lowBits == 0 ? 0 : ~UInt32(0) << (32 - lowBits)
        return (high, low)
    }

    public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}
