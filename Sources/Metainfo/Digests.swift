import Crypto

/// A fixed-size hash value stored inline (no heap allocation), with hex and byte conversions.
public protocol FixedSizeDigest: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The number of bytes in the digest.
    static var byteCount: Int { get }
    /// The digest's storage; only the first ``byteCount`` lanes are used, the rest are zero.
    var storage: SIMD32<UInt8> { get }
    init(storage: SIMD32<UInt8>)
}

extension FixedSizeDigest {
    /// A digest from exactly ``byteCount`` bytes, or nil for any other length.
    @inlinable
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var storage = SIMD32<UInt8>()
        var lane = 0
        for byte in bytes {
            storage[lane] = byte
            lane += 1
        }
        self.init(storage: storage)
    }

    /// A digest from the first ``byteCount`` bytes of raw memory (a packet, a file), or nil when there are fewer.
    @inlinable
    public init?(prefixOf raw: UnsafeRawBufferPointer) {
        guard raw.count >= Self.byteCount else { return nil }
        var storage = SIMD32<UInt8>()
        withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw.prefix(Self.byteCount))) }
        self.init(storage: storage)
    }

    /// Hashes the 32 bytes of storage at once (SIMD's own hashing feeds each lane separately, 32 calls).
    @inlinable
    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: storage) { hasher.combine(bytes: $0) }
    }

    /// A digest from lowercase or uppercase hex of exactly 2 × ``byteCount`` digits.
    public init?(hex: some StringProtocol) {
        guard let bytes = decodeHex(hex), bytes.count == Self.byteCount else { return nil }
        self.init(bytes: bytes)
    }

    /// The digest's bytes.
    public var bytes: [UInt8] { (0..<Self.byteCount).map { storage[$0] } }

    /// Lowercase hex.
    public var hex: String { encodeHex(bytes) }

    public var description: String { hex }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        for i in 0..<byteCount where lhs.storage[i] != rhs.storage[i] {
            return lhs.storage[i] < rhs.storage[i]
        }
        return false
    }
}

/// A SHA-1 digest: 20 bytes. The v1 info-hash and v1 piece hashes.
public struct SHA1Hash: FixedSizeDigest {
    public static var byteCount: Int { 20 }
    public let storage: SIMD32<UInt8>
    public init(storage: SIMD32<UInt8>) { self.storage = storage }

    /// The SHA-1 of `data`.
    public static func of(_ data: UnsafeRawBufferPointer) -> SHA1Hash {
        var hasher = Insecure.SHA1()
        hasher.update(bufferPointer: data)
        return hasher.finalize().withUnsafeBytes { SHA1Hash(bytes: $0)! }
    }

    /// The SHA-1 of `bytes`.
    public static func of(_ bytes: [UInt8]) -> SHA1Hash { bytes.withUnsafeBytes { of($0) } }
}

/// A SHA-256 digest: 32 bytes. The v2 info-hash and the nodes of v2 merkle trees.
public struct SHA256Hash: FixedSizeDigest {
    public static var byteCount: Int { 32 }
    public let storage: SIMD32<UInt8>
    public init(storage: SIMD32<UInt8>) { self.storage = storage }

    /// All zero bytes: the value BEP 52 gives leaves beyond the end of a file.
    public static let zero = SHA256Hash(storage: SIMD32())

    /// The SHA-256 of `data`.
    public static func of(_ data: UnsafeRawBufferPointer) -> SHA256Hash {
        var hasher = SHA256()
        hasher.update(bufferPointer: data)
        return hasher.finalize().withUnsafeBytes { SHA256Hash(bytes: $0)! }
    }

    /// The SHA-256 of `bytes`.
    public static func of(_ bytes: [UInt8]) -> SHA256Hash { bytes.withUnsafeBytes { of($0) } }

    /// The SHA-256 of two digests side by side: an inner node of a merkle tree.
    public static func pair(_ left: SHA256Hash, _ right: SHA256Hash) -> SHA256Hash {
        var both = (left.storage, right.storage)
        return withUnsafeBytes(of: &both) { of($0) }
    }

    /// The first 20 bytes, as BEP 52 truncates a v2 info-hash for the wire and for trackers.
    public var truncated: SHA1Hash {
        var storage = self.storage
        for i in 20..<32 { storage[i] = 0 }
        return SHA1Hash(storage: storage)
    }
}

private let hexDigits = Array("0123456789abcdef".utf8)

/// Lowercase hex of `bytes`.
public func encodeHex(_ bytes: some Sequence<UInt8>) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.underestimatedCount * 2)
    for byte in bytes {
        out.append(hexDigits[Int(byte >> 4)])
        out.append(hexDigits[Int(byte & 0x0f)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Bytes from hex digits of either case, or nil if any character is not a hex digit or the count is odd.
public func decodeHex(_ text: some StringProtocol) -> [UInt8]? {
    let utf8 = Array(text.utf8)
    guard utf8.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(utf8.count / 2)
    var i = 0
    while i < utf8.count {
        guard let high = hexDigitValue(utf8[i]), let low = hexDigitValue(utf8[i + 1]) else { return nil }
        out.append(high << 4 | low)
        i += 2
    }
    return out
}

/// The value of one hex digit, either case; nil for any other byte.
func hexDigitValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
    default: nil
    }
}
