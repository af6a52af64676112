/// A rate limit as a token bucket: up to `limit` bytes per second, with bursts of at most one second's worth.
public struct TokenBucket: Sendable, Hashable {
    /// Bytes per second; nil for no limit.
    public var limit: Int? {
        didSet { tokens = min(tokens, Double(limit ?? 0)) }
    }
    private var tokens: Double = 0

    public init(limit: Int?) { self.limit = limit }

    /// Adds the tokens `elapsed` earns, up to one second's worth.
    public mutating func refill(elapsed: Duration) {
        guard let limit else { return }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        tokens = min(Double(limit), tokens + Double(limit) * max(0, seconds))
    }

    /// The bytes that may pass now (`Int.max` without a limit).
    public var available: Int { limit == nil ? .max : Int(tokens) }

    /// Spends `bytes` (which must not exceed ``available``).
    public mutating func spend(_ bytes: Int) {
        if limit != nil { tokens = max(0, tokens - Double(bytes)) }
    }
}

/// Shares bandwidth among peers so that none is starved and none gets more than it asks for (max-min
/// fairness): each round, every waiting peer is offered an equal share; what some do not need is shared among
/// the rest. A peer's grant is bounded by every bucket it passes through (the session's and its torrent's).
public enum FairShare {
    /// Splits `available` bytes among `wants` (bytes each peer would send or receive now), max-min fairly.
    public static func split(_ available: Int, among wants: [Int]) -> [Int] {
        var grants = [Int](repeating: 0, count: wants.count)
        var remaining = max(0, available)
        var open = wants.indices.filter { wants[$0] > 0 }.sorted { wants[$0] < wants[$1] }
        while !open.isEmpty, remaining > 0 {
            let share = remaining / open.count
            // Fewer bytes than peers: they wait for the next round rather than split bytes.
            guard share > 0 else { break }
            var next: [Int] = []
            for index in open {
                let give = min(share, wants[index] - grants[index])
                grants[index] += give
                remaining -= give
                if grants[index] < wants[index] { next.append(index) }
            }
            if next.count == open.count { break }  // everyone took a full share: what is left is the remainder
            open = next
        }
        return grants
    }
}

extension FairShare {
    /// One round of a two-level limit: each peer wants some bytes and belongs to a torrent; grants respect the
    /// torrent's bucket and then the session's, fairly at each level, and are spent from both.
    public static func allocate(wants: [(torrent: Int, bytes: Int)], torrents: inout [TokenBucket],
                                session: inout TokenBucket) -> [Int] {
        var capped = wants.map(\.bytes)
        for torrent in torrents.indices {
            let members = wants.indices.filter { wants[$0].torrent == torrent }
            let grants = split(torrents[torrent].available, among: members.map { wants[$0].bytes })
            for (member, grant) in zip(members, grants) { capped[member] = grant }
        }
        let grants = split(session.available, among: capped)
        for (want, grant) in zip(wants, grants) where torrents.indices.contains(want.torrent) {
            torrents[want.torrent].spend(grant)
        }
        session.spend(grants.reduce(0, +))
        return grants
    }
}
