import Metainfo
import NIOCore

/// Takes peer wire messages off the front of a buffer, one at a time, with a limit on their length.
///
/// The length prefix is checked as soon as it arrives, so a peer cannot make Shoal buffer more than
/// ``maxMessageLength`` bytes for one message. Payload sizes are checked per message id; what the values mean
/// (a piece index in range, a block that was requested) is for the receiver, which knows the torrent.
public struct PeerMessageParser: Sendable {
    /// The longest message accepted, id byte included. The default fits a 16 KiB block and a bitfield of
    /// 8 million pieces.
    public var maxMessageLength: Int

    public init(maxMessageLength: Int = 1 << 20) {
        self.maxMessageLength = maxMessageLength
    }

    /// The next whole message, or nil if it has not fully arrived (then nothing is consumed).
    public func next(from buffer: inout ByteBuffer) throws(PeerWireError) -> PeerMessage? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self).map(Int.init) else { return nil }
        guard length <= maxMessageLength else { throw PeerWireError(.messageTooLong(length: length, limit: maxMessageLength)) }
        guard buffer.readableBytes >= 4 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        guard length > 0, var body = buffer.readSlice(length: length), let rawID = body.readInteger(as: UInt8.self) else {
            return .keepAlive
        }
        guard let id = PeerMessage.ID(rawValue: rawID) else { return .unknown(id: rawID, payload: body) }
        return try Self.parse(id, &body)
    }

    private static func parse(_ id: PeerMessage.ID, _ body: inout ByteBuffer) throws(PeerWireError) -> PeerMessage {
        let size = body.readableBytes
        func expect(_ exact: Int) throws(PeerWireError) {
            guard size == exact else { throw PeerWireError(.wrongPayloadLength(id: id.rawValue, length: size, expected: "\(exact)")) }
        }
        func integer() -> Int { Int(body.readInteger(as: UInt32.self) ?? 0) }
        func block() throws(PeerWireError) -> BlockRequest {
            try expect(12)
            return BlockRequest(piece: PieceIndex(integer()), offset: integer(), length: integer())
        }
        func hashRequest() -> HashRequest? {
            guard let root = body.readBytes(length: 32).flatMap(SHA256Hash.init(bytes:)),
                  let base = body.readInteger(as: UInt32.self), let index = body.readInteger(as: UInt32.self),
                  let length = body.readInteger(as: UInt32.self), let proof = body.readInteger(as: UInt32.self) else { return nil }
            return HashRequest(piecesRoot: root, baseLayer: base, index: index, length: length, proofLayers: proof)
        }

        switch id {
        case .choke: try expect(0); return .choke
        case .unchoke: try expect(0); return .unchoke
        case .interested: try expect(0); return .interested
        case .notInterested: try expect(0); return .notInterested
        case .have: try expect(4); return .have(PieceIndex(integer()))
        case .bitfield: return .bitfield(body.readBytes(length: size) ?? [])
        case .request: return .request(try block())
        case .piece:
            guard size >= 8 else { throw PeerWireError(.wrongPayloadLength(id: id.rawValue, length: size, expected: "at least 8")) }
            let piece = PieceIndex(integer())
            let offset = integer()
            return .piece(piece: piece, offset: offset, data: body)
        case .cancel: return .cancel(try block())
        case .port:
            try expect(2)
            return .port(body.readInteger(as: UInt16.self) ?? 0)
        case .suggest: try expect(4); return .suggest(PieceIndex(integer()))
        case .haveAll: try expect(0); return .haveAll
        case .haveNone: try expect(0); return .haveNone
        case .reject: return .reject(try block())
        case .allowedFast: try expect(4); return .allowedFast(PieceIndex(integer()))
        case .extended:
            guard let extendedID = body.readInteger(as: UInt8.self) else {
                throw PeerWireError(.malformedExtension("no extended message id"))
            }
            return .extended(id: extendedID, payload: body)
        case .hashRequest, .hashReject:
            try expect(HashRequest.wireLength)
            guard let request = hashRequest() else { throw PeerWireError(.wrongPayloadLength(id: id.rawValue, length: size, expected: "48")) }
            return id == .hashRequest ? .hashRequest(request) : .hashReject(request)
        case .hashes:
            guard size >= HashRequest.wireLength, (size - HashRequest.wireLength) % 32 == 0, let request = hashRequest() else {
                throw PeerWireError(.wrongPayloadLength(id: id.rawValue, length: size, expected: "48 plus a multiple of 32"))
            }
            var hashes: [SHA256Hash] = []
            while let bytes = body.readBytes(length: 32), let hash = SHA256Hash(bytes: bytes) { hashes.append(hash) }
            return .hashes(request, hashes)
        }
    }
}

/// A SwiftNIO decoder that turns a peer's bytes (after the handshake) into ``PeerMessage`` values.
public struct PeerMessageDecoder: ByteToMessageDecoder {
    public typealias InboundOut = PeerMessage
    public let parser: PeerMessageParser

    public init(parser: PeerMessageParser = PeerMessageParser()) { self.parser = parser }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try parser.next(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }
}
