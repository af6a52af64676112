/// The info-hashes of a torrent: SHA-1 for v1 (BEP 3), SHA-256 for v2 (BEP 52), both for a hybrid.
public struct InfoHashes: Sendable, Hashable, CustomStringConvertible {
    /// The SHA-1 of the info dictionary, for v1 and hybrid torrents.
    public var v1: SHA1Hash?
    /// The SHA-256 of the info dictionary, for v2 and hybrid torrents.
    public var v2: SHA256Hash?

    public init(v1: SHA1Hash? = nil, v2: SHA256Hash? = nil) {
        self.v1 = v1
        self.v2 = v2
    }

    /// The 20 bytes that name the torrent on the wire and to trackers: the v1 hash when there is one,
    /// otherwise the v2 hash truncated (BEP 52). Nil only when neither is known.
    public var wire: SHA1Hash? { v1 ?? v2?.truncated }

    public var description: String {
        [v1.map { "v1:\($0.hex)" }, v2.map { "v2:\($0.hex)" }].compactMap { $0 }.joined(separator: " ")
    }
}

/// Which formats of BitTorrent a torrent's info dictionary describes.
public enum TorrentVersion: String, Sendable, Hashable, CaseIterable {
    /// BEP 3 only: SHA-1 piece hashes.
    case v1
    /// BEP 52 only: per-file SHA-256 merkle trees.
    case v2
    /// Both, describing the same data with BEP 47 padding files in the v1 part.
    case hybrid

    /// Whether the v1 part is present.
    public var hasV1: Bool { self != .v2 }
    /// Whether the v2 part is present.
    public var hasV2: Bool { self != .v1 }
}

/// The position of a piece in a torrent, counted from zero.
public struct PieceIndex: Sendable, Hashable, Comparable, Strideable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public var value: Int
    public init(_ value: Int) { self.value = value }
    public init(integerLiteral value: Int) { self.value = value }
    public static func < (lhs: PieceIndex, rhs: PieceIndex) -> Bool { lhs.value < rhs.value }
    public func distance(to other: PieceIndex) -> Int { other.value - value }
    public func advanced(by n: Int) -> PieceIndex { PieceIndex(value + n) }
    public var description: String { String(value) }
}

/// The position of a file in a torrent's file list (padding files included), counted from zero.
public struct FileIndex: Sendable, Hashable, Comparable, Strideable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    public var value: Int
    public init(_ value: Int) { self.value = value }
    public init(integerLiteral value: Int) { self.value = value }
    public static func < (lhs: FileIndex, rhs: FileIndex) -> Bool { lhs.value < rhs.value }
    public func distance(to other: FileIndex) -> Int { other.value - value }
    public func advanced(by n: Int) -> FileIndex { FileIndex(value + n) }
    public var description: String { String(value) }
}

/// One bit per piece, in the order BEP 3 sends them: the high bit of the first byte is piece 0.
public struct Bitfield: Sendable, Hashable {
    /// The bits, spare bits at the end zero.
    public private(set) var bytes: [UInt8]
    /// The number of pieces the field covers.
    public let count: Int

    /// A field of `count` bits, all clear.
    public init(count: Int) {
        self.count = count
        bytes = [UInt8](repeating: 0, count: (count + 7) / 8)
    }

    /// A field from received bytes; nil if the length is wrong or a spare bit is set.
    public init?(bytes: [UInt8], count: Int) {
        guard bytes.count == (count + 7) / 8 else { return nil }
        if count % 8 != 0, let last = bytes.last, last & (0xff >> (count % 8)) != 0 { return nil }
        self.bytes = bytes
        self.count = count
    }

    public subscript(index: PieceIndex) -> Bool {
        get { bytes[index.value >> 3] & (0x80 >> UInt8(index.value & 7)) != 0 }
        set {
            if newValue { bytes[index.value >> 3] |= 0x80 >> UInt8(index.value & 7) }
            else { bytes[index.value >> 3] &= ~(0x80 >> UInt8(index.value & 7)) }
        }
    }

    /// How many bits are set.
    public var setCount: Int { bytes.reduce(0) { $0 + $1.nonzeroBitCount } }
    /// Whether every bit is set.
    public var isFull: Bool { setCount == count }
}

/// A run of bytes within one piece: what a peer requests and what a piece message carries.
public struct BlockRequest: Sendable, Hashable, CustomStringConvertible {
    /// The piece.
    public var piece: PieceIndex
    /// The offset of the first byte within the piece.
    public var offset: Int
    /// The number of bytes.
    public var length: Int

    public init(piece: PieceIndex, offset: Int, length: Int) {
        self.piece = piece
        self.offset = offset
        self.length = length
    }

    /// The size of a block in every current client: 16 KiB.
    public static let standardLength = 16 * 1024

    public var description: String { "piece \(piece) [\(offset), +\(length))" }
}
