import Metainfo
import NIOCore
import PeerWire
import Storage

/// What one connection's task knows of its peer and keeps between batches (not shared). A class so it is
/// never passed `inout` across a suspension point (that pattern crashed in swift_task_dealloc, Swift 6.3).
final class PeerView {
    var pieces: Bitfield
    var isSeed = false
    /// How many of the torrent's verified pieces we have announced to this peer.
    var sentHaves = 0
    /// The state of our pieces and priorities when interest was last decided.
    var interestCheckedAt = (haves: -1, priorities: -1)
    /// The most requests the peer takes at once (its `reqq`).
    var queueLimit = 250
    /// The extended message id the peer takes `ut_metadata` messages under; 0 when it does not.
    var metadataID: UInt8 = 0
    /// Metadata pieces sent to the peer.
    var metadataServed = 0
    /// The extended message id the peer takes `ut_pex` messages under; 0 when it does not.
    var peerExchangeID: UInt8 = 0
    /// The reachable peers we told it we are connected to (BEP 11), and when we may tell it more.
    var told: Set<PeerAddress> = []
    var nextPeerExchange = ContinuousClock.now
    /// When its latest `ut_pex` message came.
    var lastPeerExchange: ContinuousClock.Instant?

    init(pieceCount: Int) { pieces = Bitfield(count: pieceCount) }

    /// Requests to keep outstanding: half a second of the peer's rate, within sensible bounds.
    func queueTarget(rate: Int) -> Int {
        let wanted = rate == 0 ? 64 : rate / (2 * BlockRequest.standardLength)
        return min(max(wanted, 32), min(queueLimit, 500))
    }
}

/// What a batch of messages from one peer brings to the torrent.
struct PeerBatch {
    var has: [PieceIndex] = []
    var becameSeed = false
    var released: [BlockRequest] = []
    var blocks: [(BlockRequest, ByteBuffer)] = []
    var interested: Bool?
}

/// What the torrent asks a connection's task to do after a batch.
struct PeerStep {
    var messages: [PeerMessage] = []
    /// Pieces whose last block arrived: to be hashed and written by the task, outside the lock.
    var completed: [PieceBuffer] = []
    /// Other connections with something new to send.
    var wake: [PeerHandle] = []
    /// The peer's requests for pieces we have, to be served.
    var serve: [BlockRequest] = []
    var rechoke = false
}

/// The state of a torrent shared by its connections, always used under ``Torrent/core``'s lock.
struct TorrentCore {
    let layout: StorageLayout
    var picker: PiecePicker<Int>
    /// Wanted pieces not yet verified.
    private(set) var remaining = 0
    private(set) var bytesWanted: Int64 = 0
    private(set) var bytesLeft: Int64 = 0
    /// Pieces verified while running, in order: each connection announces them from where it left off.
    private(set) var haveLog: [PieceIndex] = []
    /// Bumped when priorities change, so connections decide their interest again.
    private(set) var priorityEpoch = 0
    var assembling: [PieceIndex: PieceBuffer] = [:]
    var peers: [Int: PeerHandle] = [:]
    private var nextPeerID = 0
    var choker: Choker<Int>
    /// Hash-check failures blamed on each address, and the addresses refused for them.
    var strikes: [IPAddress: Int] = [:]
    var banned: Set<IPAddress> = []
    var candidates = PeerCandidates()
    var halfOpen = 0
    var downloaded: Int64 = 0
    var uploaded: Int64 = 0
    var downloadRate = 0
    var uploadRate = 0
    var measured: (downloaded: Int64, uploaded: Int64) = (0, 0)
    var hashRequestsAnswered = 0
    var hashRequestsRefused = 0
    var resumeDirty = false
    var stopped = false
    var rechokeWanted = false

    init(layout: StorageLayout, verified: Bitfield, options: TorrentOptions, uploadSlots: Int) {
        self.layout = layout
        let count = layout.pieceCount
        picker = PiecePicker(blockCounts: (0..<count).map {
            (layout.size(of: PieceIndex($0)) + BlockRequest.standardLength - 1) / BlockRequest.standardLength
        })
        for i in 0..<min(count, verified.count) where verified[PieceIndex(i)] { picker.markHave(PieceIndex(i)) }
        picker.sequential = options.sequential
        choker = Choker(uploadSlots: uploadSlots)
        if let priorities = options.filePriorities {
            setFilePriorities(priorities, layout: layout)
        } else {
            recount()
        }
    }

    /// A piece takes the highest priority of the files it holds bytes of.
    mutating func setFilePriorities(_ priorities: [PiecePriority], layout: StorageLayout) {
        var pieces = [PiecePriority](repeating: .skip, count: layout.pieceCount)
        for (index, file) in layout.files.enumerated() where !file.isPadding {
            let priority = index < priorities.count ? priorities[index] : .normal
            for piece in layout.pieces(of: FileIndex(index)) where priority > pieces[piece.value] { pieces[piece.value] = priority }
        }
        for (index, priority) in pieces.enumerated() { picker.setPriority(priority, of: PieceIndex(index)) }
        priorityEpoch += 1
        recount()
    }

    private mutating func recount() {
        remaining = 0
        bytesWanted = 0
        bytesLeft = 0
        for i in 0..<layout.pieceCount where picker.priority(of: PieceIndex(i)) != .skip {
            let size = Int64(layout.size(of: PieceIndex(i)))
            bytesWanted += size
            if !picker.has(PieceIndex(i)) {
                remaining += 1
                bytesLeft += size
            }
        }
    }

    func stats() -> TorrentStats {
        var stats = TorrentStats()
        stats.downloaded = downloaded
        stats.uploaded = uploaded
        stats.downloadRate = downloadRate
        stats.uploadRate = uploadRate
        stats.peers = peers.count
        stats.have = picker.verified.setCount
        stats.pieces = layout.pieceCount
        stats.bytesLeft = bytesLeft
        stats.bytesWanted = bytesWanted
        stats.hashRequestsAnswered = hashRequestsAnswered
        stats.hashRequestsRefused = hashRequestsRefused
        return stats
    }

    // MARK: Connections

    /// Takes a connection in, unless its address is banned or the torrent is full or stopped.
    mutating func register(name: String, ip: IPAddress?, peerID: PeerID, sender: PeerSender, maxPeers: Int) -> PeerHandle? {
        guard !stopped, peers.count < maxPeers, !(ip.map(banned.contains) ?? false) else { return nil }
        nextPeerID += 1
        let handle = PeerHandle(id: nextPeerID, name: name, ip: ip, peerID: peerID, sender: sender)
        peers[handle.id] = handle
        return handle
    }

    /// A connection ended: its requests go back to the pool and its pieces stop counting as available.
    mutating func unregister(_ handle: PeerHandle, view: PeerView) {
        guard peers.removeValue(forKey: handle.id) != nil else { return }
        picker.forget(peer: handle.id)
        if view.isSeed { picker.seedLeft() } else { picker.peerLost(view.pieces) }
        if handle.control.withLock({ $0.unchoke }) { rechokeWanted = true }
    }

    // MARK: A batch from one peer

    mutating func step(_ batch: PeerBatch, handle: PeerHandle, view: PeerView,
                       state: inout PeerConnectionState) -> PeerStep {
        var result = PeerStep()
        for piece in batch.has { picker.peerHas(piece) }
        if batch.becameSeed { picker.seedJoined() }
        for block in batch.released {
            picker.requestEnded(piece: block.piece, block: block.offset / BlockRequest.standardLength, peer: handle.id)
        }
        var received = 0
        for (block, data) in batch.blocks {
            received += data.readableBytes
            guard !picker.has(block.piece), picker.priority(of: block.piece) != .skip else { continue }
            let buffer: PieceBuffer
            if let existing = assembling[block.piece] {
                buffer = existing
            } else {
                buffer = PieceBuffer(piece: block.piece, size: layout.size(of: block.piece))
                assembling[block.piece] = buffer
            }
            guard buffer.add(offset: block.offset, data: data, from: handle) else { continue }
            let outcome = picker.received(piece: block.piece, block: block.offset / BlockRequest.standardLength, from: handle.id)
            for other in outcome.cancel {
                guard let peer = peers[other] else { continue }
                peer.control.withLock { $0.cancels.append(block) }
                result.wake.append(peer)
            }
            if buffer.missing == 0 {
                assembling[block.piece] = nil
                result.completed.append(buffer)
            }
        }
        downloaded += Int64(received)

        let now = ContinuousClock.now
        let (unchoke, cancels, snubbed, interestChanged) = handle.control.withLock { control in
            control.downloaded += Int64(received)
            if received > 0 {
                control.lastBlock = now
                control.snubbed = false
            }
            var changed = false
            if let interested = batch.interested, interested != control.interested {
                control.interested = interested
                changed = true
            }
            let cancels = control.cancels
            control.cancels = []
            return (control.unchoke, cancels, control.snubbed, changed)
        }
        result.rechoke = interestChanged
        for block in cancels {
            if let message = state.cancel(block) { result.messages.append(message) }
        }

        // Announce what we verified since the last batch.
        if view.sentHaves < haveLog.count {
            for piece in haveLog[view.sentHaves...] where !view.pieces[piece] { result.messages.append(.have(piece)) }
            view.sentHaves = haveLog.count
        }
        if !batch.has.isEmpty || batch.becameSeed || view.interestCheckedAt != (haveLog.count, priorityEpoch) {
            view.interestCheckedAt = (haveLog.count, priorityEpoch)
            if let message = state.setInterested(picker.wantsAny(of: view.isSeed ? nil : view.pieces)) {
                result.messages.append(message)
            }
        }
        if state.amChoking == unchoke { result.messages += state.setChoking(!unchoke) }

        if state.amInterested, !state.peerChoking, !snubbed {
            let target = view.queueTarget(rate: handle.control.withLock { $0.downloadRate })
            let room = target - state.outgoing.count
            // Top up in batches rather than one request per block received.
            if room >= max(1, target / 8) {
                for choice in picker.pick(count: room, for: handle.id, peerHas: view.isSeed ? nil : view.pieces) {
                    let offset = choice.block * BlockRequest.standardLength
                    let length = min(BlockRequest.standardLength, layout.size(of: choice.piece) - offset)
                    if let message = state.request(BlockRequest(piece: choice.piece, offset: offset, length: length)) {
                        result.messages.append(message)
                    }
                }
            }
        }
        let awaiting = !state.outgoing.isEmpty
        handle.control.withLock { $0.awaitingBlocks = awaiting }

        // The peer's requests: those for pieces we have are served by the task; others are refused.
        for block in state.incoming.prefix(64) {
            if picker.has(block.piece) {
                result.serve.append(block)
            } else {
                state.answered(block)
                if state.fastExtension { result.messages.append(.reject(block)) }
            }
        }
        return result
    }

    // MARK: Verified pieces

    /// Records the outcome of hashing (and, if good, writing) a piece. Returns the connections to wake (to
    /// announce it, or to fetch its blocks again) and those to close (banned for bad data), and whether the
    /// torrent just finished.
    mutating func finished(_ piece: PieceBuffer, good: Bool) -> (wake: [PeerHandle], ban: [PeerHandle], blamed: [String], done: Bool) {
        if good {
            guard !picker.has(piece.piece) else { return ([], [], [], false) }
            picker.markHave(piece.piece)
            haveLog.append(piece.piece)
            resumeDirty = true
            if picker.priority(of: piece.piece) != .skip {
                remaining -= 1
                bytesLeft -= Int64(layout.size(of: piece.piece))
            }
            return (Array(peers.values), [], [], remaining == 0)
        }
        picker.hashFailed(piece.piece)
        // Blame: a piece from one sender is its fault alone and weighs double.
        let weight = piece.senders.count == 1 ? 2 : 1
        var ban: [PeerHandle] = []
        var blamed: [String] = []
        for peer in piece.senders.values {
            blamed.append(peer.name)
            guard let ip = peer.ip else { continue }
            strikes[ip, default: 0] += weight
            if strikes[ip, default: 0] >= 4, !banned.contains(ip) {
                banned.insert(ip)
                ban += peers.values.filter { $0.ip == ip }
            }
        }
        return (Array(peers.values), ban, blamed, false)
    }
}

extension PiecePicker {
    /// Whether a peer with `pieces` (nil: every piece) has something we want.
    func wantsAny(of pieces: Bitfield?) -> Bool {
        for i in 0..<pieceCount {
            let piece = PieceIndex(i)
            if !has(piece), priority(of: piece) != .skip, pieces?[piece] ?? true { return true }
        }
        return false
    }
}
