import Metainfo

/// The peers other nodes announced to us (`announce_peer`), per info-hash, handed out in `get_peers` replies.
///
/// Bounded however hard it is flooded: at most ``Limits/maxInfoHashes`` info-hashes and
/// ``Limits/maxPeersPerInfoHash`` peers each (libtorrent's `dht_max_torrents` and `dht_max_peers` defaults).
/// A peer is kept for ``Limits/peerLifetime`` after its last announce. Time is passed in.
public struct PeerStore: Sendable {
    /// The bounds.
    public struct Limits: Sendable, Hashable {
        /// Info-hashes kept (libtorrent: 2000). A new one beyond this displaces the one with the fewest peers.
        public var maxInfoHashes: Int
        /// Peers kept per info-hash (libtorrent: 500). A new one beyond this displaces the oldest announce.
        public var maxPeersPerInfoHash: Int
        /// How long an announce lasts (BEP 5 clients re-announce every 15 to 30 minutes).
        public var peerLifetime: Duration

        public init(maxInfoHashes: Int = 2000, maxPeersPerInfoHash: Int = 500, peerLifetime: Duration = .seconds(30 * 60)) {
            precondition(maxInfoHashes > 0 && maxPeersPerInfoHash > 0)
            self.maxInfoHashes = maxInfoHashes
            self.maxPeersPerInfoHash = maxPeersPerInfoHash
            self.peerLifetime = peerLifetime
        }
    }

    /// The bounds.
    public let limits: Limits
    /// When each peer last announced, per info-hash. Peers are keyed by address and port, so peers sharing a
    /// NAT (or loopback) are distinct.
    private var swarms: [SHA1Hash: [PeerAddress: ContinuousClock.Instant]] = [:]

    /// An empty store.
    public init(limits: Limits = Limits()) { self.limits = limits }

    /// The number of info-hashes with peers stored.
    public var infoHashCount: Int { swarms.count }

    /// The number of peers stored for `infoHash`, expired ones included until ``expire(now:)``.
    public func peerCount(for infoHash: SHA1Hash) -> Int { swarms[infoHash]?.count ?? 0 }

    /// Records that `peer` announced itself for `infoHash` at `now` (after the token was checked).
    public mutating func announce(_ peer: PeerAddress, for infoHash: SHA1Hash, now: ContinuousClock.Instant) {
        if swarms[infoHash] == nil, swarms.count >= limits.maxInfoHashes {
            expire(now: now)
            if swarms.count >= limits.maxInfoHashes, let smallest = swarms.min(by: { $0.value.count < $1.value.count })?.key {
                swarms[smallest] = nil
            }
        }
        // Taken out and put back, so that the dictionary is changed in place rather than copied.
        var swarm = swarms.removeValue(forKey: infoHash) ?? [:]
        // One address holds at most two places in a swarm (loopback aside): its newest announces.
        if swarm[peer] == nil, !peer.ip.isLoopback {
            let same = swarm.filter { $0.key.ip == peer.ip }
            if same.count >= 2, let oldest = same.min(by: { $0.value < $1.value })?.key { swarm[oldest] = nil }
        }
        if swarm[peer] == nil, swarm.count >= limits.maxPeersPerInfoHash {
            swarm = swarm.filter { now - $0.value < limits.peerLifetime }
            if swarm.count >= limits.maxPeersPerInfoHash, let oldest = swarm.min(by: { $0.value < $1.value })?.key {
                swarm[oldest] = nil
            }
        }
        swarm[peer] = now
        swarms[infoHash] = swarm
    }

    /// Up to `max` live peers of `family` for `infoHash`, chosen at random so that every peer gets handed out.
    public func peers(for infoHash: SHA1Hash, family: AddressFamily, max: Int, now: ContinuousClock.Instant,
                      using generator: inout some RandomNumberGenerator) -> [PeerAddress] {
        guard let swarm = swarms[infoHash], max > 0 else { return [] }
        var live = swarm.compactMap { peer, announced in
            AddressFamily(peer.ip) == family && now - announced < limits.peerLifetime ? peer : nil
        }
        // A partial Fisher–Yates shuffle: only the first `max` places are drawn.
        let count = min(max, live.count)
        for index in 0..<count {
            live.swapAt(index, Int.random(in: index..<live.count, using: &generator))
        }
        return Array(live.prefix(count))
    }

    /// Drops expired peers, and info-hashes left with none.
    public mutating func expire(now: ContinuousClock.Instant) {
        for (infoHash, swarm) in swarms {
            let live = swarm.filter { now - $0.value < limits.peerLifetime }
            swarms[infoHash] = live.isEmpty ? nil : live
        }
    }
}
