import Bencode
import Metainfo

/// Why a `ut_metadata` message or the metadata it carries cannot be used.
public enum MetadataError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message breaks BEP 9: bad bencoding, a missing key, a piece out of range or of the wrong length.
    case malformed(String)
    /// A size beyond ``MetadataMessage/maxMetadataSize``, or zero.
    case unacceptableSize(Int)
    /// The assembled info dictionary does not hash to the info-hash: some sender lied.
    case hashMismatch

    public var description: String {
        switch self {
        case .malformed(let what): "malformed metadata message: \(what)"
        case .unacceptableSize(let size): "metadata of \(size) bytes is not accepted (1 to \(MetadataMessage.maxMetadataSize))"
        case .hashMismatch: "the metadata does not hash to the info-hash"
        }
    }
}

/// A BEP 9 `ut_metadata` message: asking for, sending or refusing one 16 KiB piece of a torrent's info dictionary.
public enum MetadataMessage: Sendable, Hashable {
    case request(piece: Int)
    case data(piece: Int, totalSize: Int, payload: [UInt8])
    case reject(piece: Int)

    /// Every piece but the last is this long.
    public static let pieceSize = 16_384
    /// The largest info dictionary accepted, as libtorrent's default `max_metadata_size`.
    public static let maxMetadataSize = 30 << 20

    /// The bencoded dictionary is tiny: a few keys, no nesting.
    private static let decoder = BencodeDecoder(
        limits: .init(maxInputSize: pieceSize + 512, maxStringLength: 64, maxDepth: 2, maxElements: 16),
        options: .init(requireSortedKeys: false, rejectTrailingData: false))

    /// The message's payload (after the extended message id).
    public func encoded() -> [UInt8] {
        var dictionary = BencodeDictionary()
        switch self {
        case .request(let piece):
            dictionary["msg_type"] = .integer(0)
            dictionary["piece"] = .integer(Int64(piece))
            return BencodeValue.dictionary(dictionary).encoded()
        case .data(let piece, let totalSize, let payload):
            dictionary["msg_type"] = .integer(1)
            dictionary["piece"] = .integer(Int64(piece))
            dictionary["total_size"] = .integer(Int64(totalSize))
            return BencodeValue.dictionary(dictionary).encoded() + payload
        case .reject(let piece):
            dictionary["msg_type"] = .integer(2)
            dictionary["piece"] = .integer(Int64(piece))
            return BencodeValue.dictionary(dictionary).encoded()
        }
    }

    /// Reads a payload. Nil for a message type BEP 9 does not define, which must be ignored; a `data` message's
    /// piece must have the length its place in a metadata of `total_size` bytes gives it.
    public init?(parsing payload: [UInt8]) throws(MetadataError) {
        let value: BencodeValue
        let end: Int
        do { (value, end) = try Self.decoder.decodePrefix(payload) } catch { throw .malformed("\(error)") }
        guard let dictionary = value.dictionary, let type = dictionary["msg_type"]?.integer else { throw .malformed("no msg_type") }
        guard let piece = dictionary["piece"]?.integer, (0..<Int64(Self.maxMetadataSize / Self.pieceSize + 1)).contains(piece) else {
            throw .malformed("no usable piece number")
        }
        switch type {
        case 0:
            self = .request(piece: Int(piece))
        case 1:
            guard let total = dictionary["total_size"]?.integer else { throw .malformed("a data message without total_size") }
            guard total > 0, total <= Int64(Self.maxMetadataSize) else { throw .unacceptableSize(Int(clamping: total)) }
            let data = Array(payload[end...])
            guard piece * Int64(Self.pieceSize) < total, data.count == Self.pieceLength(Int(piece), of: Int(total)) else {
                throw .malformed("piece \(piece) of \(data.count) bytes in metadata of \(total)")
            }
            self = .data(piece: Int(piece), totalSize: Int(total), payload: data)
        case 2:
            self = .reject(piece: Int(piece))
        default:
            return nil
        }
    }

    /// The length of piece `index` of metadata of `size` bytes; 0 for a piece beyond its end.
    public static func pieceLength(_ index: Int, of size: Int) -> Int {
        max(0, min(pieceSize, size - index * pieceSize))
    }

    /// The answer to a request from whoever holds the whole info dictionary `info`.
    public static func answer(_ piece: Int, from info: [UInt8]) -> MetadataMessage {
        let length = pieceLength(piece, of: info.count)
        guard length > 0 else { return .reject(piece: piece) }
        let start = piece * pieceSize
        return .data(piece: piece, totalSize: info.count, payload: Array(info[start..<start + length]))
    }
}

/// A torrent's info dictionary gathered piece by piece from peers (BEP 9), checked against the info-hash once
/// whole. Memory grows with the pieces received, never with a size a peer merely claims.
public struct MetadataAssembly: Sendable {
    public let infoHashes: InfoHashes
    public let size: Int
    private var pieces: [Int: [UInt8]] = [:]

    /// An assembly of `size` bytes (from `metadata_size` or `total_size`) for the torrent of `infoHashes`.
    public init(infoHashes: InfoHashes, size: Int) throws(MetadataError) {
        guard size > 0, size <= MetadataMessage.maxMetadataSize else { throw .unacceptableSize(size) }
        self.infoHashes = infoHashes
        self.size = size
    }

    public var pieceCount: Int { (size + MetadataMessage.pieceSize - 1) / MetadataMessage.pieceSize }

    /// Pieces not received yet, in order.
    public var missing: [Int] { (0..<pieceCount).filter { pieces[$0] == nil } }

    public var isComplete: Bool { pieces.count == pieceCount }

    /// Keeps a received piece; one of the wrong length or place is malformed.
    public mutating func add(piece: Int, data: [UInt8]) throws(MetadataError) {
        guard (0..<pieceCount).contains(piece), data.count == MetadataMessage.pieceLength(piece, of: size) else {
            throw .malformed("piece \(piece) of \(data.count) bytes does not fit metadata of \(size)")
        }
        pieces[piece] = data
    }

    /// The info dictionary, once every piece is in and it hashes to every info-hash known. On a mismatch every
    /// piece is dropped (the caller knows who sent them) and ``MetadataError/hashMismatch`` is thrown.
    public mutating func finish() throws(MetadataError) -> [UInt8] {
        guard isComplete else { throw .malformed("\(missing.count) pieces still missing") }
        let bytes = (0..<pieceCount).flatMap { pieces[$0] ?? [] }
        let v1Matches = infoHashes.v1.map { SHA1Hash.of(bytes) == $0 } ?? true
        let v2Matches = infoHashes.v2.map { SHA256Hash.of(bytes) == $0 } ?? true
        guard v1Matches, v2Matches, infoHashes.v1 != nil || infoHashes.v2 != nil else {
            pieces = [:]
            throw .hashMismatch
        }
        return bytes
    }
}
