import Metainfo

/// What the choker knows of one connected peer at a rechoke.
public struct ChokeCandidate<Key: Hashable & Sendable>: Sendable {
    public var key: Key
    /// The peer wants data from us.
    public var isInterested: Bool
    /// Bytes per second we receive from the peer: what tit-for-tat rewards.
    public var downloadRate: Int
    /// Bytes per second we send the peer.
    public var uploadRate: Int
    /// The peer has sent us nothing for a long while although it unchoked us.
    public var isSnubbed: Bool
    /// When the connection was made, on the session's clock.
    public var connectedAt: Duration

    public init(key: Key, isInterested: Bool, downloadRate: Int = 0, uploadRate: Int = 0, isSnubbed: Bool = false,
                connectedAt: Duration = .zero) {
        self.key = key
        self.isInterested = isInterested
        self.downloadRate = downloadRate
        self.uploadRate = uploadRate
        self.isSnubbed = isSnubbed
        self.connectedAt = connectedAt
    }
}

/// Decides whom we upload to (BEP 3's choking algorithm, as libtorrent refines it). It does no I/O.
///
/// Of ``uploadSlots``, one is the optimistic unchoke: an interested peer picked at random, new connections
/// three times as likely, and kept for ``optimisticInterval`` so it can prove itself. The others go, while
/// downloading, to the peers that give us the most (tit-for-tat; snubbed peers excluded), and while seeding,
/// in turns of ``seedingTurn`` to every interested peer, the one that waited longest since its last turn first
/// and the faster one first among equals (rate-based round robin). Call ``rechoke(_:now:seeding:)`` every 10 seconds, as other
/// clients do, and when a peer comes, goes or changes interest.
public struct Choker<Key: Hashable & Sendable>: Sendable {
    /// How many peers are unchoked at once (the user's upload slots); 0 uploads to no one.
    public var uploadSlots: Int
    public var optimisticInterval: Duration = .seconds(30)
    public var seedingTurn: Duration = .seconds(30)
    /// A connection younger than this counts as new for the optimistic unchoke.
    public var newPeerAge: Duration = .seconds(60)
    /// The peer unchoked optimistically, if any.
    public private(set) var optimistic: Key?
    private var optimisticSince: Duration = .zero
    /// When each peer holding a regular slot got it.
    private var turnStarted: [Key: Duration] = [:]
    /// When each peer's last regular turn ended, for the seeding queue.
    private var lastServed: [Key: Duration] = [:]
    /// The previous decision.
    private var lastUnchoked: Set<Key> = []
    private var random: SplitMix64

    public init(uploadSlots: Int = 4, seed: UInt64 = UInt64.random(in: .min ... .max)) {
        self.uploadSlots = uploadSlots
        random = SplitMix64(seed: seed)
    }

    /// The peers to have unchoked from `now` on; every other peer is to be choked.
    public mutating func rechoke(_ peers: [ChokeCandidate<Key>], now: Duration, seeding: Bool) -> Set<Key> {
        let interested = peers.filter(\.isInterested)
        guard uploadSlots > 0, !interested.isEmpty else {
            optimistic = nil
            return []
        }
        let regularSlots = interested.count > uploadSlots - 1 ? uploadSlots - 1 : uploadSlots
        let ranked: [ChokeCandidate<Key>]
        if seeding {
            // Turns that ran out end now: their holders go to the back of the queue.
            for (key, started) in turnStarted where now - started >= seedingTurn { lastServed[key] = now }
            func inTurn(_ peer: ChokeCandidate<Key>) -> Bool { turnStarted[peer.key].map { now - $0 < seedingTurn } ?? false }
            ranked = interested.sorted { a, b in
                let aTurn = inTurn(a)
                let bTurn = inTurn(b)
                if aTurn != bTurn { return aTurn }
                // Out of turn: who waited longest since their last turn (never served counts as longest).
                let aServed = lastServed[a.key]
                let bServed = lastServed[b.key]
                if !aTurn, aServed != bServed {
                    guard let aServed else { return true }
                    guard let bServed else { return false }
                    return aServed < bServed
                }
                return a.uploadRate > b.uploadRate
            }
        } else {
            ranked = interested.filter { !$0.isSnubbed }.sorted { a, b in
                if a.downloadRate != b.downloadRate { return a.downloadRate > b.downloadRate }
                // Equal rates: whoever is unchoked stays so, which avoids fibrillation.
                return lastUnchoked.contains(a.key) && !lastUnchoked.contains(b.key)
            }
        }
        var unchoked = Set(ranked.prefix(regularSlots).map(\.key))
        // A regular slot starts a turn; an optimistic unchoke does not, so it cannot carry a peer into one.
        for key in turnStarted.keys where !unchoked.contains(key) && lastServed[key] != now { lastServed[key] = now }
        turnStarted = Dictionary(uniqueKeysWithValues: unchoked.map { key in
            (key, turnStarted[key].flatMap { now - $0 < seedingTurn ? $0 : nil } ?? now)
        })
        let present = Set(peers.map(\.key))
        lastServed = lastServed.filter { present.contains($0.key) }

        let others = interested.filter { !unchoked.contains($0.key) }
        if others.isEmpty {
            optimistic = nil
        } else if let current = optimistic, others.contains(where: { $0.key == current }), now - optimisticSince < optimisticInterval {
            unchoked.insert(current)
        } else {
            let weights = others.map { now - $0.connectedAt < newPeerAge ? 3 : 1 }
            var ticket = Int(random.next() % UInt64(weights.reduce(0, +)))
            for (peer, weight) in zip(others, weights) {
                if ticket < weight {
                    optimistic = peer.key
                    break
                }
                ticket -= weight
            }
            optimisticSince = now
            if let optimistic { unchoked.insert(optimistic) }
        }
        lastUnchoked = unchoked
        return unchoked
    }
}
