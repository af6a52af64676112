/// A torrent's trackers in tiers (BEP 12): within a tier, trackers are tried in order until one answers, and the
/// one that answered moves to the front. Each tier starts shuffled, so a swarm's load spreads over its trackers.
public struct TrackerTiers: Sendable, Hashable {
    /// The tiers now, in the order their trackers will be tried; no tier is empty and no URL appears twice.
    public private(set) var tiers: [[String]]

    /// Tiers from an announce list: blank and repeated URLs dropped (the first stays), empty tiers dropped, each
    /// tier shuffled with `generator`.
    public init(_ tiers: [[String]], using generator: inout some RandomNumberGenerator) {
        var seen: Set<String> = []
        self.tiers = tiers.compactMap { tier in
            let urls = tier.map { $0.trimmingWhitespace }.filter { !$0.isEmpty && seen.insert($0).inserted }
            return urls.isEmpty ? nil : urls.shuffled(using: &generator)
        }
    }

    /// ``init(_:using:)`` with the system's random numbers.
    public init(_ tiers: [[String]]) {
        var generator = SystemRandomNumberGenerator()
        self.init(tiers, using: &generator)
    }

    /// Every URL, tier by tier.
    public var urls: [String] { tiers.flatMap { $0 } }

    /// Moves the tracker that just answered to the front of its tier.
    public mutating func promote(_ url: String, inTier tier: Int) {
        guard tiers.indices.contains(tier), let index = tiers[tier].firstIndex(of: url) else { return }
        tiers[tier].remove(at: index)
        tiers[tier].insert(url, at: 0)
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
