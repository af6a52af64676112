import Metainfo
import NIOCore
import PeerWire
import Storage

/// Serves a torrent's verified pieces to peers: the uploading half of the engine, first version.
///
/// Every interested peer is unchoked (the choker and upload slots come with the session); requests for
/// pieces we have are read from storage and sent, others are rejected (BEP 6) or ignored.
public struct TorrentSeeder: Sendable {
    public let torrent: Metainfo
    public let storage: PieceStorage
    /// The pieces we can serve.
    public let have: Bitfield
    public let peerID: PeerID

    public init(torrent: Metainfo, storage: PieceStorage, have: Bitfield, peerID: PeerID = .shoal()) {
        self.torrent = torrent
        self.storage = storage
        self.have = have
        self.peerID = peerID
    }

    /// Our handshake for this torrent.
    public var handshake: Handshake? {
        torrent.info.infoHashes.wire.map { Handshake(extensions: [.fast, .extensionProtocol], infoHash: $0, peerID: peerID) }
    }

    /// Serves one peer until it leaves or breaks the protocol.
    public func serve(_ link: PeerLink) async throws {
        let info = torrent.info
        var state = PeerConnectionState(pieceCount: info.pieceCount, pieceLength: info.pieceLength,
                                        totalSize: info.pieceSpaceSize, fastExtension: link.remote.extensions.contains(.fast))
        if state.fastExtension, have.isFull {
            try await link.send([.haveAll])
        } else if have.setCount > 0 {
            try await link.send([.bitfield(have.bytes)])
        } else if state.fastExtension {
            try await link.send([.haveNone])
        }
        while true {
            let message = try await link.next()
            var outgoing: [PeerMessage] = []
            for event in try state.received(message) {
                switch event {
                case .peerInterested(true):
                    outgoing += state.setChoking(false)
                case .peerInterested(false):
                    outgoing += state.setChoking(true)
                case .requested(let block):
                    state.answered(block)
                    if have[block.piece], let data = try read(block) {
                        outgoing.append(.piece(piece: block.piece, offset: block.offset, data: data))
                    } else if state.fastExtension {
                        outgoing.append(.reject(block))
                    }
                case .reply(let reply):
                    outgoing.append(reply)
                default:
                    continue
                }
            }
            if !outgoing.isEmpty { try await link.send(outgoing) }
        }
    }

    /// A block read from storage straight into the buffer it is sent from (no intermediate array), or nil if
    /// its bytes are missing.
    private func read(_ block: BlockRequest) throws(StorageError) -> ByteBuffer? {
        let start = storage.layout.range(of: block.piece).lowerBound + Int64(block.offset)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(block.length)
        var complete = false
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: block.length) { target throws(StorageError) -> Int in
            let region = UnsafeMutableRawBufferPointer(rebasing: target[..<block.length])
            complete = try storage.read(start..<(start + Int64(block.length)), into: region)
            return block.length
        }
        return complete ? buffer : nil
    }
}
