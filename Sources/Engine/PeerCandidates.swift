import Metainfo

/// A peer we may connect to.
struct Candidate {
    let host: String
    let port: Int
    var failures = 0
    var connected = false
    var nextTry: ContinuousClock.Instant = .now
    /// Whether the latest attempt got through the handshake.
    var reached = false
}

/// The peers a torrent (or a metadata fetch) may connect to, from the user, trackers, the DHT, PEX and LSD,
/// by name (`host:port`): which to try now, and which failed too often to try again.
struct PeerCandidates {
    /// The most peers remembered (libtorrent's `max_peerlist_size` is 3000).
    static let maxCount = 3000
    /// Attempts that fail before a peer is given up.
    static let maxFailures = 3

    private var byName: [String: Candidate] = [:]

    var count: Int { byName.count }

    subscript(name: String) -> Candidate? {
        get { byName[name] }
        set { byName[name] = newValue }
    }

    var names: Dictionary<String, Candidate>.Keys { byName.keys }

    /// Adds peers not known yet. Sources keep naming peers: past the bound, peers given up make room, then new
    /// ones wait.
    mutating func add(_ peers: [(host: String, port: Int)]) {
        if byName.count + peers.count > Self.maxCount {
            byName = byName.filter { $0.value.connected || $0.value.failures < Self.maxFailures }
        }
        for peer in peers where byName.count < Self.maxCount {
            let name = peerName(host: peer.host, port: peer.port)
            if byName[name] == nil { byName[name] = Candidate(host: peer.host, port: peer.port) }
        }
    }

    /// Adds peers as trackers, the DHT, peer exchange and local discovery name them.
    mutating func add(_ addresses: some Sequence<PeerAddress>) {
        add(addresses.map { (host: $0.ip.description, port: Int($0.port)) })
    }

    /// Up to `room` peers due for an attempt now, marked as connecting. Peers `permits` refuses (blocked,
    /// banned, or not an address) are given up without an attempt.
    mutating func take(room: Int, now: ContinuousClock.Instant, permits: (IPAddress) -> Bool) -> [Candidate] {
        var room = room
        var picked: [Candidate] = []
        for (name, candidate) in byName where room > 0 && !candidate.connected
            && candidate.failures < Self.maxFailures && candidate.nextTry <= now {
            guard let address = IPAddress(candidate.host), permits(address) else {
                byName[name]?.failures = Self.maxFailures
                continue
            }
            byName[name]?.connected = true
            byName[name]?.reached = false
            room -= 1
            picked.append(candidate)
        }
        return picked
    }

    /// An attempt got through the handshake.
    mutating func reached(_ name: String) { byName[name]?.reached = true }

    /// An attempt ended. A peer that worked is tried again soon, unless `giveUp`; one that failed (including one
    /// that got through the handshake but was of no use: `fruitless`), less and less often, until it is given up.
    /// Returns whether the attempt had got through the handshake.
    @discardableResult
    mutating func ended(_ name: String, giveUp: Bool, fruitless: Bool = false) -> Bool {
        guard var candidate = byName[name] else { return false }
        let handshaken = candidate.reached
        candidate.connected = false
        candidate.failures = handshaken && !fruitless ? candidate.failures : candidate.failures + 1
        if handshaken, giveUp { candidate.failures = Self.maxFailures }
        candidate.nextTry = .now + .seconds(5 << min(candidate.failures, 6))
        byName[name] = candidate
        return handshaken
    }

    /// Every peer known has been given up and none is being tried.
    var exhausted: Bool { !byName.values.contains { $0.failures < Self.maxFailures || $0.connected } }
}
