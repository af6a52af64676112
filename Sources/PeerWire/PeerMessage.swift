import Metainfo
import NIOCore

/// A BEP 52 request for hashes of a file's merkle tree; also the payload of `hashes` and `hash reject`.
public struct HashRequest: Sendable, Hashable {
    /// The root of the file's tree.
    public var piecesRoot: SHA256Hash
    /// The layer the hashes come from, counted up from the 16 KiB leaves (0).
    public var baseLayer: UInt32
    /// The first hash's position in that layer.
    public var index: UInt32
    /// How many hashes.
    public var length: UInt32
    /// How many layers of uncle hashes to add as proof.
    public var proofLayers: UInt32

    public init(piecesRoot: SHA256Hash, baseLayer: UInt32, index: UInt32, length: UInt32, proofLayers: UInt32) {
        self.piecesRoot = piecesRoot
        self.baseLayer = baseLayer
        self.index = index
        self.length = length
        self.proofLayers = proofLayers
    }

    /// 32 bytes of root and four 32-bit integers.
    static let wireLength = 48
}

/// One message of the peer wire protocol after the handshake (BEP 3, with BEP 5, 6, 10 and 52).
public enum PeerMessage: Sendable, Hashable {
    case keepAlive
    case choke
    case unchoke
    case interested
    case notInterested
    case have(PieceIndex)
    /// The raw bitfield; its length is checked against the torrent by the receiver, which knows the piece count.
    case bitfield([UInt8])
    case request(BlockRequest)
    /// A block of data. The bytes stay in the buffer they arrived in: no copy on the way to disk.
    case piece(piece: PieceIndex, offset: Int, data: ByteBuffer)
    case cancel(BlockRequest)
    /// BEP 5: the sender's DHT port.
    case port(UInt16)
    /// BEP 6.
    case suggest(PieceIndex)
    case haveAll
    case haveNone
    case reject(BlockRequest)
    case allowedFast(PieceIndex)
    /// BEP 10: an extension message; id 0 is the extension handshake.
    case extended(id: UInt8, payload: ByteBuffer)
    /// BEP 52.
    case hashRequest(HashRequest)
    case hashes(HashRequest, [SHA256Hash])
    case hashReject(HashRequest)
    /// A message id Shoal does not know; kept so the caller can decide (BEP 3 says ignore it).
    case unknown(id: UInt8, payload: ByteBuffer)

    /// Message ids on the wire.
    enum ID: UInt8 {
        case choke = 0, unchoke, interested, notInterested, have, bitfield, request, piece, cancel, port
        case suggest = 13, haveAll, haveNone, reject, allowedFast
        case extended = 20, hashRequest, hashes, hashReject
    }
}

extension PeerMessage {
    /// Appends the 13 bytes that precede a block of `length` bytes in a piece message, so that a sender can
    /// write the block itself from its own buffer without copying it.
    public static func writePieceHeader(piece: PieceIndex, offset: Int, length: Int, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt32(truncatingIfNeeded: 9 + length))
        buffer.writeInteger(ID.piece.rawValue)
        buffer.writeInteger(UInt32(truncatingIfNeeded: piece.value))
        buffer.writeInteger(UInt32(truncatingIfNeeded: offset))
    }

    /// Appends the message with its length prefix.
    public func write(to buffer: inout ByteBuffer) {
        func header(_ id: ID, payload: Int) {
            buffer.writeInteger(UInt32(1 + payload))
            buffer.writeInteger(id.rawValue)
        }
        func block(_ id: ID, _ request: BlockRequest) {
            header(id, payload: 12)
            buffer.writeInteger(UInt32(truncatingIfNeeded: request.piece.value))
            buffer.writeInteger(UInt32(truncatingIfNeeded: request.offset))
            buffer.writeInteger(UInt32(truncatingIfNeeded: request.length))
        }
        func index(_ id: ID, _ piece: PieceIndex) {
            header(id, payload: 4)
            buffer.writeInteger(UInt32(truncatingIfNeeded: piece.value))
        }
        func hashRequestBody(_ request: HashRequest) {
            buffer.writeBytes(request.piecesRoot.bytes)
            buffer.writeInteger(request.baseLayer)
            buffer.writeInteger(request.index)
            buffer.writeInteger(request.length)
            buffer.writeInteger(request.proofLayers)
        }
        switch self {
        case .keepAlive: buffer.writeInteger(UInt32(0))
        case .choke: header(.choke, payload: 0)
        case .unchoke: header(.unchoke, payload: 0)
        case .interested: header(.interested, payload: 0)
        case .notInterested: header(.notInterested, payload: 0)
        case .have(let piece): index(.have, piece)
        case .bitfield(let bits):
            header(.bitfield, payload: bits.count)
            buffer.writeBytes(bits)
        case .request(let request): block(.request, request)
        case .piece(let piece, let offset, let data):
            Self.writePieceHeader(piece: piece, offset: offset, length: data.readableBytes, to: &buffer)
            buffer.writeImmutableBuffer(data)
        case .cancel(let request): block(.cancel, request)
        case .port(let port):
            header(.port, payload: 2)
            buffer.writeInteger(port)
        case .suggest(let piece): index(.suggest, piece)
        case .haveAll: header(.haveAll, payload: 0)
        case .haveNone: header(.haveNone, payload: 0)
        case .reject(let request): block(.reject, request)
        case .allowedFast(let piece): index(.allowedFast, piece)
        case .extended(let id, let payload):
            header(.extended, payload: 1 + payload.readableBytes)
            buffer.writeInteger(id)
            buffer.writeImmutableBuffer(payload)
        case .hashRequest(let request):
            header(.hashRequest, payload: HashRequest.wireLength)
            hashRequestBody(request)
        case .hashes(let request, let hashes):
            header(.hashes, payload: HashRequest.wireLength + 32 * hashes.count)
            hashRequestBody(request)
            for hash in hashes { buffer.writeBytes(hash.bytes) }
        case .hashReject(let request):
            header(.hashReject, payload: HashRequest.wireLength)
            hashRequestBody(request)
        case .unknown(let id, let payload):
            buffer.writeInteger(UInt32(1 + payload.readableBytes))
            buffer.writeInteger(id)
            buffer.writeImmutableBuffer(payload)
        }
    }
}
