import Metainfo
import NIOCore
import PeerWire
import Storage

/// What happens during a download, for whoever shows it (the CLI, a daemon); the library never prints.
public enum DownloadEvent: Sendable, Hashable {
    case peerConnected(String, client: String?)
    case peerDisconnected(String, reason: String)
    case pieceVerified(PieceIndex, have: Int, of: Int)
    /// A piece failed its hash check; its blocks are fetched again.
    case pieceFailed(PieceIndex)
    case finished
}

/// Downloads a torrent from a given set of peers into its storage: the first, simplest engine loop.
///
/// Each peer runs in a task of its own; the shared state (piece picker, verified pieces) lives in this actor,
/// which peer tasks call once per message batch, not per byte. Blocks are written as they arrive; a piece is
/// hashed when its last block lands and only then counts, so nothing unverified is ever reported as done.
/// Trackers, incoming connections, choking our own uploads and rate limits come later.
public actor TorrentDownload {
    public let torrent: Metainfo
    private let storage: PieceStorage
    private let checker: PieceChecker
    private let peerID: PeerID
    private var picker: PiecePicker<String>
    /// Requests kept in flight per peer.
    private let pipeline: Int
    private let events: AsyncStream<DownloadEvent>.Continuation
    private var finishedSignal: AsyncStream<Void>.Continuation?
    /// The events of this download, in order.
    public nonisolated let eventStream: AsyncStream<DownloadEvent>

    public init(torrent: Metainfo, storage: PieceStorage, verified: Bitfield? = nil, peerID: PeerID = .shoal(), pipeline: Int = 64) {
        self.torrent = torrent
        self.storage = storage
        self.checker = PieceChecker(torrent: torrent, storage: storage)
        self.peerID = peerID
        self.pipeline = pipeline
        let layout = storage.layout
        var picker = PiecePicker<String>(blockCounts: (0..<layout.pieceCount).map { layout.blocks(of: PieceIndex($0)).count })
        if let verified {
            for i in 0..<min(verified.count, layout.pieceCount) where verified[PieceIndex(i)] { picker.markHave(PieceIndex(i)) }
        }
        self.picker = picker
        (eventStream, events) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1024))
    }

    /// Whether every piece is verified.
    public var isComplete: Bool { picker.isFinished }

    /// Connects to every peer and downloads until every piece is verified or every peer has gone. Returns
    /// the pieces verified.
    public func run(peers: [(host: String, port: Int)]) async -> Bitfield {
        if !picker.isFinished, !peers.isEmpty {
            let (done, signal) = AsyncStream<Void>.makeStream()
            finishedSignal = signal
            await withTaskGroup(of: Void.self) { group in
                for peer in peers {
                    group.addTask { await self.session(host: peer.host, port: peer.port) }
                }
                // When the last piece verifies, idle connections are closed rather than waited on.
                group.addTask {
                    for await _ in done { break }
                }
                var running = peers.count + 1
                while running > 0, await group.next() != nil {
                    running -= 1
                    if isComplete || running == 1 { group.cancelAll() }
                }
            }
            finishedSignal = nil
        }
        if picker.isFinished { events.yield(.finished) }
        events.finish()
        return picker.verified
    }

    /// One peer, from connection to disconnection.
    private nonisolated func session(host: String, port: Int) async {
        let name = "\(host):\(port)"
        guard let infoHash = torrent.info.infoHashes.wire else { return }
        let handshake = Handshake(extensions: [.fast, .extensionProtocol], infoHash: infoHash, peerID: peerID)
        do {
            try await PeerConnector.withConnection(host: host, port: port, handshake: handshake) { link in
                await self.connected(name, client: link.remote.peerID.azureusClient)
                try await self.exchange(link, name: name)
            }
            await self.disconnected(name, reason: "finished")
        } catch {
            await self.disconnected(name, reason: "\(error)")
            await self.forget(peer: name)
        }
    }

    private func connected(_ name: String, client: String?) { events.yield(.peerConnected(name, client: client)) }
    private func disconnected(_ name: String, reason: String) { events.yield(.peerDisconnected(name, reason: reason)) }

    /// The message loop for one peer.
    private nonisolated func exchange(_ link: PeerLink, name: String) async throws {
        let info = torrent.info
        var state = PeerConnectionState(pieceCount: info.pieceCount, pieceLength: info.pieceLength,
                                        totalSize: info.pieceSpaceSize,
                                        fastExtension: link.remote.extensions.contains(.fast))
        var peerPieces = Bitfield(count: info.pieceCount)
        var peerIsSeed = false
        do {
            try await exchangeLoop(link, name: name, state: &state, peerPieces: &peerPieces, peerIsSeed: &peerIsSeed)
        } catch {
            await peerGone(peerPieces, seed: peerIsSeed)
            throw error
        }
        await peerGone(peerPieces, seed: peerIsSeed)
    }

    /// What a peer had no longer counts toward availability once it is gone.
    private func peerGone(_ pieces: Bitfield, seed: Bool) {
        if seed { picker.seedLeft() } else { picker.peerLost(pieces) }
    }

    private nonisolated func exchangeLoop(_ link: PeerLink, name: String, state: inout PeerConnectionState,
                                          peerPieces: inout Bitfield, peerIsSeed: inout Bool) async throws {
        while await !isComplete {
            let message = try await link.next()
            var outgoing: [PeerMessage] = []
            var wantMore = false
            for event in try state.received(message) {
                switch event {
                case .peerHas(let pieces):
                    for piece in pieces { peerPieces[piece] = true }
                    await noteHas(pieces)
                    wantMore = true
                case .peerHasAll:
                    peerIsSeed = true
                    await noteSeed()
                    wantMore = true
                case .unchoked:
                    wantMore = true
                case .choked(let lost):
                    await release(lost, peer: name)
                case .rejected(let block):
                    await release([block], peer: name)
                case .block(let block, let data):
                    try await receive(block, data, from: name)
                    wantMore = true
                case .reply(let message):
                    outgoing.append(message)
                default:
                    continue
                }
            }
            if wantMore {
                if !state.amInterested, let interested = state.setInterested(true) { outgoing.append(interested) }
                if !state.peerChoking {
                    let room = pipeline - state.outgoing.count
                    if room > 0 {
                        let blocks = await pick(room, for: name, peerHas: peerIsSeed ? nil : peerPieces)
                        outgoing += blocks.compactMap { state.request($0) }
                    }
                }
            }
            if !outgoing.isEmpty { try await link.send(outgoing) }
        }
    }

    private func noteHas(_ pieces: [PieceIndex]) { for piece in pieces { picker.peerHas(piece) } }
    private func noteSeed() { picker.seedJoined() }

    private func pick(_ count: Int, for peer: String, peerHas: Bitfield?) -> [BlockRequest] {
        let layout = storage.layout
        return picker.pick(count: count, for: peer, peerHas: peerHas).map { choice in
            let block = layout.blocks(of: choice.piece)[choice.block]
            return block
        }
    }

    private func release(_ blocks: [BlockRequest], peer: String) {
        for block in blocks { picker.requestEnded(piece: block.piece, block: block.offset / BlockRequest.standardLength, peer: peer) }
    }

    /// A peer left: its outstanding requests go back to the pool.
    private func forget(peer: String) { picker.forget(peer: peer) }

    /// Writes a block; when it completes its piece, hashes the piece and counts it only if it verifies.
    private func receive(_ block: BlockRequest, _ data: ByteBuffer, from peer: String) throws {
        guard !picker.has(block.piece) else { return }
        try data.withUnsafeReadableBytes { bytes throws(StorageError) in try storage.write(block, from: bytes) }
        let outcome = picker.received(piece: block.piece, block: block.offset / BlockRequest.standardLength, from: peer)
        guard outcome.pieceComplete else { return }
        if try verify(block.piece) {
            picker.markHave(block.piece)
            events.yield(.pieceVerified(block.piece, have: picker.verified.setCount, of: storage.layout.pieceCount))
            if picker.isFinished { finishedSignal?.yield() }
        } else {
            picker.hashFailed(block.piece)
            events.yield(.pieceFailed(block.piece))
        }
    }

    /// Reads a piece back and checks it against every hash the torrent has for it.
    private func verify(_ piece: PieceIndex) throws -> Bool {
        let range = storage.layout.range(of: piece)
        var bytes = [UInt8](repeating: 0, count: Int(range.count))
        let complete = try bytes.withUnsafeMutableBytes { buffer throws(StorageError) in try storage.read(range, into: buffer) }
        return complete && bytes.withUnsafeBytes { checker.verify(piece, bytes: $0) }
    }
}
