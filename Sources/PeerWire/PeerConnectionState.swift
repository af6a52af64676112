import Metainfo
import NIOCore

/// The protocol state of one peer connection after the handshake (BEP 3, with BEP 6 when both sides speak
/// it): who chokes whom, who is interested, what the peer has, and the requests outstanding each way.
///
/// It is a plain value: each message from the peer goes in through ``received(_:)`` and comes out as the
/// events the engine must act on, or as a ``ProtocolViolation`` that closes the connection. Everything a peer
/// sends is checked here against the torrent's dimensions: indices and offsets in range, bitfields of the
/// right length, blocks that were requested, and a cap on the requests it may queue.
public struct PeerConnectionState: Sendable {
    /// Bounds on what a peer may make us hold.
    public struct Limits: Sendable, Hashable {
        /// Requests a peer may have outstanding with us (what we advertise as `reqq`).
        public var maxIncomingRequests: Int
        /// The largest block a peer may request (all current clients use 16 KiB).
        public var maxBlockLength: Int

        public init(maxIncomingRequests: Int = 500, maxBlockLength: Int = 16 * 1024) {
            self.maxIncomingRequests = maxIncomingRequests
            self.maxBlockLength = maxBlockLength
        }
    }

    /// Why a connection must close: the peer broke the protocol.
    public struct ProtocolViolation: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// What the engine must do about a message.
    public enum Event: Sendable, Hashable {
        /// The peer now has these pieces (from `have`, a bitfield or have-all).
        case peerHas([PieceIndex])
        case peerHasAll
        /// The peer choked us; these of our requests will not be answered and may go to other peers.
        case choked(lost: [BlockRequest])
        case unchoked
        case peerInterested(Bool)
        /// A requested block arrived.
        case block(BlockRequest, ByteBuffer)
        /// The peer refused one of our requests (BEP 6).
        case rejected(BlockRequest)
        /// The peer asks for a block; serve it or reject it.
        case requested(BlockRequest)
        /// The peer withdrew a request that was still queued with us.
        case cancelled(BlockRequest)
        /// BEP 6 hints.
        case suggested(PieceIndex)
        case allowedFast(PieceIndex)
        /// An extension message (BEP 10) for the engine's extension handlers.
        case extended(id: UInt8, payload: ByteBuffer)
        /// The peer's DHT port (BEP 5).
        case dhtPort(UInt16)
        /// The peer asks for merkle hashes (BEP 52); answer with `hashes` or `hash reject`, one or the other.
        case hashRequested(HashRequest)
        /// A message to send back at once (for example a reject for a request the peer may not make).
        case reply(PeerMessage)
    }

    public let pieceCount: Int
    public let pieceLength: Int
    public let lastPieceLength: Int
    public let fastExtension: Bool
    public var limits: Limits

    /// We refuse to upload to the peer.
    public private(set) var amChoking = true
    /// We want data from the peer.
    public private(set) var amInterested = false
    /// The peer refuses to upload to us.
    public private(set) var peerChoking = true
    /// The peer wants data from us.
    public private(set) var peerInterested = false
    /// What the peer has.
    public private(set) var peerPieces: Bitfield
    /// Our requests the peer has not answered.
    public private(set) var outgoing: Set<BlockRequest> = []
    /// Requests we cancelled without BEP 6: the block may still be on its way and is then no violation.
    private var cancelledInFlight: Set<BlockRequest> = []
    /// The peer's requests we have not answered, in arrival order.
    public private(set) var incoming: [BlockRequest] = []
    /// Pieces the peer may request even while choked (BEP 6 allowed fast set we sent).
    public var allowedFastForPeer: Set<PieceIndex> = []
    private var sawProtocolMessage = false

    public init(pieceCount: Int, pieceLength: Int, totalSize: Int64, fastExtension: Bool, limits: Limits = Limits()) {
        self.pieceCount = pieceCount
        self.pieceLength = pieceLength
        let tail = Int(totalSize - Int64(pieceCount - 1) * Int64(pieceLength))
        self.lastPieceLength = pieceCount > 0 ? tail : 0
        self.fastExtension = fastExtension
        self.limits = limits
        peerPieces = Bitfield(count: pieceCount)
    }

    /// The bytes of a piece as peers exchange them.
    public func size(of piece: PieceIndex) -> Int { piece.value == pieceCount - 1 ? lastPieceLength : pieceLength }

    private func isValidPiece(_ piece: PieceIndex) -> Bool { piece.value >= 0 && piece.value < pieceCount }

    private func isValidBlock(_ block: BlockRequest) -> Bool {
        isValidPiece(block.piece) && block.offset >= 0 && block.length > 0 && block.length <= limits.maxBlockLength
            && block.offset <= size(of: block.piece) - block.length
    }

    // MARK: Messages from the peer

    /// Takes in one message from the peer and says what follows from it.
    public mutating func received(_ message: PeerMessage) throws(ProtocolViolation) -> [Event] {
        // A bitfield (or have-all/none) must come before other protocol messages; extension messages (libtorrent
        // sends its extension handshake first), keep-alives and the DHT port may precede it.
        let first = !sawProtocolMessage
        switch message {
        case .extended, .keepAlive, .port: break
        default: sawProtocolMessage = true
        }
        switch message {
        case .keepAlive:
            return []
        case .choke:
            peerChoking = true
            // Without BEP 6 a choke silently drops every pending request; with it the peer rejects them itself.
            guard !fastExtension else { return [] }
            let lost = outgoing.sorted { ($0.piece, $0.offset) < ($1.piece, $1.offset) }
            outgoing = []
            cancelledInFlight = []
            return [.choked(lost: lost)]
        case .unchoke:
            peerChoking = false
            return [.unchoked]
        case .interested:
            peerInterested = true
            return [.peerInterested(true)]
        case .notInterested:
            peerInterested = false
            return [.peerInterested(false)]
        case .have(let piece):
            guard isValidPiece(piece) else { throw ProtocolViolation("have for piece \(piece) of \(pieceCount)") }
            guard !peerPieces[piece] else { return [] }
            peerPieces[piece] = true
            return [.peerHas([piece])]
        case .bitfield(let bytes):
            guard first else { throw ProtocolViolation("bitfield after other messages") }
            guard let field = Bitfield(bytes: bytes, count: pieceCount) else {
                throw ProtocolViolation("bitfield of \(bytes.count) bytes for \(pieceCount) pieces, or spare bits set")
            }
            peerPieces = field
            return [.peerHas((0..<pieceCount).filter { field[PieceIndex($0)] }.map { PieceIndex($0) })]
        case .haveAll, .haveNone:
            guard fastExtension else { throw ProtocolViolation("have-all/have-none without the fast extension") }
            guard first else { throw ProtocolViolation("have-all/have-none after other messages") }
            if case .haveNone = message { return [] }
            for i in 0..<pieceCount { peerPieces[PieceIndex(i)] = true }
            return [.peerHasAll]
        case .request(let block):
            guard isValidBlock(block) else { throw ProtocolViolation("request out of range: \(block)") }
            if amChoking && !allowedFastForPeer.contains(block.piece) {
                // BEP 6 asks for an explicit reject; plain BEP 3 peers just see the request ignored.
                return fastExtension ? [.reply(.reject(block))] : []
            }
            guard incoming.count < limits.maxIncomingRequests else {
                throw ProtocolViolation("more than \(limits.maxIncomingRequests) outstanding requests")
            }
            incoming.append(block)
            return [.requested(block)]
        case .cancel(let block):
            guard let index = incoming.firstIndex(of: block) else { return [] }
            incoming.remove(at: index)
            return [.cancelled(block)]
        case .piece(let piece, let offset, let data):
            let block = BlockRequest(piece: piece, offset: offset, length: data.readableBytes)
            guard outgoing.remove(block) != nil || cancelledInFlight.remove(block) != nil else {
                throw ProtocolViolation("block never requested: \(block)")
            }
            return [.block(block, data)]
        case .reject(let block):
            guard fastExtension else { throw ProtocolViolation("reject without the fast extension") }
            guard outgoing.remove(block) != nil else { throw ProtocolViolation("reject of a block never requested: \(block)") }
            return [.rejected(block)]
        case .suggest(let piece):
            guard isValidPiece(piece) else { throw ProtocolViolation("suggest for piece \(piece) of \(pieceCount)") }
            return [.suggested(piece)]
        case .allowedFast(let piece):
            guard isValidPiece(piece) else { throw ProtocolViolation("allowed fast for piece \(piece) of \(pieceCount)") }
            return [.allowedFast(piece)]
        case .port(let port):
            return [.dhtPort(port)]
        case .extended(let id, let payload):
            return [.extended(id: id, payload: payload)]
        case .hashRequest(let request):
            return [.hashRequested(request)]
        case .hashes, .hashReject, .unknown:
            // We send no hash requests yet; unknown ids are ignored, as BEP 3 asks.
            return []
        }
    }

    // MARK: Our side

    /// We send `request`: it becomes outstanding. Returns the message, or nil if the request is not one we
    /// may send (out of range, already outstanding, or choked without an allowed-fast piece).
    public mutating func request(_ block: BlockRequest, allowedFast: Bool = false) -> PeerMessage? {
        guard isValidBlock(block), !outgoing.contains(block), !peerChoking || allowedFast else { return nil }
        outgoing.insert(block)
        return .request(block)
    }

    /// We withdraw a request (endgame, or the block came from elsewhere).
    public mutating func cancel(_ block: BlockRequest) -> PeerMessage? {
        guard outgoing.contains(block) else { return nil }
        // Under BEP 6 the peer still answers (block or reject); without it the request is gone, though its
        // block may already be on the way.
        if !fastExtension {
            outgoing.remove(block)
            cancelledInFlight.insert(block)
        }
        return .cancel(block)
    }

    /// We served or rejected a queued request of the peer.
    public mutating func answered(_ block: BlockRequest) {
        if let index = incoming.firstIndex(of: block) { incoming.remove(at: index) }
    }

    /// We change whether we choke the peer. Choking drops its queued requests; under BEP 6 each gets a reject.
    public mutating func setChoking(_ choking: Bool) -> [PeerMessage] {
        guard choking != amChoking else { return [] }
        amChoking = choking
        guard choking else { return [.unchoke] }
        let dropped = incoming.filter { !allowedFastForPeer.contains($0.piece) }
        incoming.removeAll { !allowedFastForPeer.contains($0.piece) }
        return [.choke] + (fastExtension ? dropped.map { .reject($0) } : [])
    }

    /// We change whether we want the peer's data.
    public mutating func setInterested(_ interested: Bool) -> PeerMessage? {
        guard interested != amInterested else { return nil }
        amInterested = interested
        return interested ? .interested : .notInterested
    }
}
