import Metainfo

/// How much a piece is wanted: 0 skips it, 1 to 7 rank it (4 is normal), as libtorrent's priorities do.
public struct PiecePriority: Sendable, Hashable, Comparable, ExpressibleByIntegerLiteral {
    public let value: UInt8
    public init(_ value: UInt8) { self.value = min(value, 7) }
    public init(integerLiteral value: UInt8) { self.init(value) }
    public static func < (lhs: PiecePriority, rhs: PiecePriority) -> Bool { lhs.value < rhs.value }

    /// Not downloaded at all.
    public static let skip = PiecePriority(0)
    /// The default.
    public static let normal = PiecePriority(4)
    /// The most urgent.
    public static let top = PiecePriority(7)
}

/// Decides which blocks to request from a peer: the piece picker. It does no I/O and knows no peers beyond an
/// opaque key, so it is tested with plain values.
///
/// Order of choice, for each request: blocks of pieces already under way (so pieces finish and can be shared),
/// then new pieces by priority, then rarest first (fewest peers have it) with a random tie-break, or in
/// index order in sequential mode. When every wanted block is requested or received, the picker enters
/// endgame and hands out blocks already requested from other peers, so the last pieces do not wait on the
/// slowest peer.
public struct PiecePicker<PeerKey: Hashable & Sendable>: Sendable {
    /// Where one block stands.
    enum BlockState: Sendable, Equatable {
        case open
        case requested(Set<PeerKey>)
        case received
    }

    /// The blocks of each piece.
    private let blockCounts: [Int]
    /// How many connected peers have each piece (peers that have everything are counted in `seeds`).
    private var availability: [Int]
    private var seeds = 0
    private var have: Bitfield
    private var priorities: [PiecePriority]
    /// Pieces with at least one block requested or received, and where each block stands.
    private var underWay: [PieceIndex: [BlockState]] = [:]
    private var random: SplitMix64
    /// Pick in index order instead of rarest first (for streaming).
    public var sequential = false

    /// A picker for pieces of the given block counts; `seed` fixes the tie-break order (tests pass one).
    public init(blockCounts: [Int], seed: UInt64 = UInt64.random(in: .min ... .max)) {
        self.blockCounts = blockCounts
        availability = [Int](repeating: 0, count: blockCounts.count)
        have = Bitfield(count: blockCounts.count)
        priorities = [PiecePriority](repeating: .normal, count: blockCounts.count)
        random = SplitMix64(seed: seed)
    }

    public var pieceCount: Int { blockCounts.count }

    // MARK: What peers have

    /// A peer announced `piece` (a `have` message, or a bit of its bitfield).
    public mutating func peerHas(_ piece: PieceIndex) { availability[piece.value] += 1 }
    /// A peer that had `piece` went away.
    public mutating func peerLost(_ piece: PieceIndex) { availability[piece.value] = max(0, availability[piece.value] - 1) }
    /// A peer announced its bitfield.
    public mutating func peerHas(_ bitfield: Bitfield) {
        for i in 0..<min(bitfield.count, pieceCount) where bitfield[PieceIndex(i)] { availability[i] += 1 }
    }
    /// A peer with that bitfield went away.
    public mutating func peerLost(_ bitfield: Bitfield) {
        for i in 0..<min(bitfield.count, pieceCount) where bitfield[PieceIndex(i)] { availability[i] = max(0, availability[i] - 1) }
    }
    /// A seed (have-all) came or went.
    public mutating func seedJoined() { seeds += 1 }
    public mutating func seedLeft() { seeds = max(0, seeds - 1) }

    /// How many connected peers have `piece`.
    public func availability(of piece: PieceIndex) -> Int { availability[piece.value] + seeds }

    // MARK: What we want

    public mutating func setPriority(_ priority: PiecePriority, of piece: PieceIndex) { priorities[piece.value] = priority }
    public func priority(of piece: PieceIndex) -> PiecePriority { priorities[piece.value] }

    /// A piece verified (on arrival or by a check at start): never picked again.
    public mutating func markHave(_ piece: PieceIndex) {
        have[piece] = true
        underWay[piece] = nil
    }

    public func has(_ piece: PieceIndex) -> Bool { have[piece] }
    /// The verified pieces.
    public var verified: Bitfield { have }

    /// Whether every piece with a priority above skip is verified.
    public var isFinished: Bool {
        (0..<pieceCount).allSatisfy { have[PieceIndex($0)] || priorities[$0] == .skip }
    }

    /// Whether every wanted block is requested or received, so requests may be duplicated.
    public var isEndgame: Bool {
        for i in 0..<pieceCount where !have[PieceIndex(i)] && priorities[i] != .skip {
            guard let blocks = underWay[PieceIndex(i)], !blocks.contains(.open) else { return false }
        }
        return true
    }

    // MARK: Requests

    /// Up to `count` blocks to request from `peer`, which has the pieces `peerHas` says (nil: all of them).
    /// Each is returned as a piece and a block number and is marked requested by `peer`.
    public mutating func pick(count: Int, for peer: PeerKey, peerHas: Bitfield?) -> [(piece: PieceIndex, block: Int)] {
        var picked: [(piece: PieceIndex, block: Int)] = []
        func peerOffers(_ piece: PieceIndex) -> Bool { peerHas?[piece] ?? true }

        // Pieces under way first, highest priority and then most complete first, so they finish.
        let partial = underWay.keys.filter { peerOffers($0) && priorities[$0.value] != .skip }.sorted { a, b in
            if priorities[a.value] != priorities[b.value] { return priorities[a.value] > priorities[b.value] }
            let doneA = underWay[a]?.filter { $0 != .open }.count ?? 0
            let doneB = underWay[b]?.filter { $0 != .open }.count ?? 0
            return doneA != doneB ? doneA > doneB : a < b
        }
        for piece in partial where picked.count < count { takeOpenBlocks(of: piece, for: peer, upTo: count, into: &picked) }

        // Then new pieces: priority, then rarest first (or in order), random among equals.
        if picked.count < count {
            for piece in candidates(peerOffers: peerOffers) where picked.count < count {
                takeOpenBlocks(of: piece, for: peer, upTo: count, into: &picked)
            }
        }

        // Endgame: blocks already requested from others, fewest requesters first.
        if picked.count < count, isEndgame {
            var duplicates: [(piece: PieceIndex, block: Int, requesters: Int)] = []
            for (piece, blocks) in underWay where peerOffers(piece) && priorities[piece.value] != .skip {
                for (block, state) in blocks.enumerated() {
                    if case .requested(let peers) = state, !peers.contains(peer) {
                        duplicates.append((piece, block, peers.count))
                    }
                }
            }
            duplicates.sort { ($0.requesters, $0.piece, $0.block) < ($1.requesters, $1.piece, $1.block) }
            for candidate in duplicates.prefix(count - picked.count) {
                if case .requested(var peers) = underWay[candidate.piece]?[candidate.block] {
                    peers.insert(peer)
                    underWay[candidate.piece]?[candidate.block] = .requested(peers)
                    picked.append((candidate.piece, candidate.block))
                }
            }
        }
        return picked
    }

    /// Wanted pieces not yet under way that the peer offers, best first.
    private mutating func candidates(peerOffers: (PieceIndex) -> Bool) -> [PieceIndex] {
        var pieces: [(piece: PieceIndex, key: (Int, Int, UInt64))] = []
        for i in 0..<pieceCount {
            let piece = PieceIndex(i)
            guard !have[piece], priorities[i] != .skip, underWay[piece] == nil, peerOffers(piece) else { continue }
            let order = sequential ? i : availability[i]
            pieces.append((piece, (-Int(priorities[i].value), order, sequential ? 0 : random.next())))
        }
        pieces.sort { $0.key < $1.key }
        return pieces.map(\.piece)
    }

    private mutating func takeOpenBlocks(of piece: PieceIndex, for peer: PeerKey, upTo count: Int,
                                         into picked: inout [(piece: PieceIndex, block: Int)]) {
        var blocks = underWay[piece] ?? [BlockState](repeating: .open, count: blockCounts[piece.value])
        for block in blocks.indices where picked.count < count && blocks[block] == .open {
            blocks[block] = .requested([peer])
            picked.append((piece, block))
        }
        underWay[piece] = blocks
    }

    /// A block arrived from `peer`. Returns whether it completes its piece (which is then ready to be hashed)
    /// and which other peers were also asked for it in endgame (they should be sent a cancel).
    @discardableResult
    public mutating func received(piece: PieceIndex, block: Int, from peer: PeerKey) -> (pieceComplete: Bool, cancel: Set<PeerKey>) {
        guard var blocks = underWay[piece], blocks.indices.contains(block) else { return (false, []) }
        var others: Set<PeerKey> = []
        if case .requested(let peers) = blocks[block] { others = peers.subtracting([peer]) }
        blocks[block] = .received
        underWay[piece] = blocks
        return (blocks.allSatisfy { $0 == .received }, others)
    }

    /// A request to `peer` ended without data (rejected, cancelled, timed out, or the peer left).
    public mutating func requestEnded(piece: PieceIndex, block: Int, peer: PeerKey) {
        guard var blocks = underWay[piece], blocks.indices.contains(block),
              case .requested(var peers) = blocks[block] else { return }
        peers.remove(peer)
        blocks[block] = peers.isEmpty ? .open : .requested(peers)
        if blocks.allSatisfy({ $0 == .open }) { underWay[piece] = nil } else { underWay[piece] = blocks }
    }

    /// A peer went away: every request it held is open again (unless another peer holds it too).
    public mutating func forget(peer: PeerKey) {
        for (piece, blocks) in underWay {
            for (block, state) in blocks.enumerated() {
                if case .requested(let peers) = state, peers.contains(peer) { requestEnded(piece: piece, block: block, peer: peer) }
            }
        }
    }

    /// A completed piece failed its hash check: all its blocks are wanted again.
    public mutating func hashFailed(_ piece: PieceIndex) { underWay[piece] = nil }
}

