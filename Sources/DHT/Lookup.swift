import Metainfo

/// The iterative Kademlia lookup of BEP 5 (`find_node` or `get_peers`) as a state machine with no I/O.
///
/// The owner asks ``next(now:)`` which nodes to query, sends the queries, and reports each answer with
/// ``received(from:id:nodes:values:token:)`` or each failure with ``failed(_:)``; timeouts are found by
/// ``next(now:)`` from the time passed in. Candidates are kept nearest to the target first. At most
/// ``Configuration/alpha`` queries are outstanding; one that has been silent past
/// ``Configuration/shortTimeout`` stops counting, so a slow node does not hold the lookup up (libtorrent's short
/// timeout), but it may still answer until ``Configuration/timeout``.
///
/// The lookup is finished when the ``Configuration/resultCount`` nearest candidates that are not failed or slow
/// have all answered, or when ``Configuration/maxQueries`` have been sent and none is outstanding.
public struct Lookup: Sendable {
    /// How a lookup runs, with libtorrent's and BEP 5's values as defaults.
    public struct Configuration: Sendable, Hashable {
        /// Queries outstanding at once (Kademlia's α).
        public var alpha: Int
        /// K: how many nearest nodes must answer, and how many the result holds.
        public var resultCount: Int
        /// Queries sent at most, however the lookup goes.
        public var maxQueries: Int
        /// Silence after which a query stops counting against ``alpha`` (libtorrent: 1 second).
        public var shortTimeout: Duration
        /// Silence after which a query has failed (libtorrent: 15 seconds).
        public var timeout: Duration
        /// Queries sent again to a node silent past ``shortTimeout`` before it counts as slow. libtorrent sends
        /// none; one makes a lost datagram rarely cost the lookup its nearest nodes: in a simulated DHT of 1000
        /// nodes with 5 % loss, lookups found an announced peer 70 % of the time without, 85 % with one.
        public var retries: Int
        /// Candidates kept; beyond this the farthest not yet queried are dropped.
        public var maxCandidates: Int
        /// Distinct peers collected at most.
        public var maxPeers: Int
        /// BEP 42: a node whose id is not secure for its address does not count as an answer and cannot be
        /// announced to, though the nodes and peers it sends are used.
        public var enforceSecureIDs: Bool

        public init(alpha: Int = 3, resultCount: Int = 8, maxQueries: Int = 100, shortTimeout: Duration = .seconds(1), retries: Int = 1,
                    timeout: Duration = .seconds(15), maxCandidates: Int = 128, maxPeers: Int = 1000, enforceSecureIDs: Bool = false) {
            precondition(alpha > 0 && resultCount > 0 && maxQueries > 0 && maxCandidates >= resultCount && maxPeers >= 0)
            self.alpha = alpha
            self.resultCount = resultCount
            self.maxQueries = maxQueries
            self.shortTimeout = shortTimeout
            self.retries = retries
            self.timeout = timeout
            self.maxCandidates = maxCandidates
            self.maxPeers = maxPeers
            self.enforceSecureIDs = enforceSecureIDs
        }
    }

    /// A node that answered, with the write token it gave (for `announce_peer`).
    public struct Responder: Sendable, Hashable {
        public var node: NodeInfo
        public var token: [UInt8]?
    }

    private enum State: Sendable, Hashable {
        case fresh
        case inFlight(sentAt: ContinuousClock.Instant, slow: Bool)
        case responded(token: [UInt8]?)
        case failed
    }

    private struct Candidate: Sendable {
        /// Nil for a bootstrap address until it answers.
        var id: NodeID?
        let address: PeerAddress
        /// XOR distance to the target; nil (farthest of all) while the id is unknown.
        var distance: NodeID?
        /// 1 for seeds, one more than the node that named it otherwise.
        let hop: Int
        var state: State
        /// Queries sent to it.
        var sends = 0
    }

    /// The id sought: a node id, or an info-hash as ``NodeID/init(_:)`` makes it.
    public let target: NodeID
    /// The DHT the lookup runs in; nodes of the other family are ignored.
    public let family: AddressFamily
    /// The rules.
    public let configuration: Configuration

    /// Candidates, nearest first.
    private var candidates: [Candidate] = []
    private var knownAddresses: Set<PeerAddress> = []
    /// One candidate per IP address (loopback aside): one answer cannot aim a lookup's queries at one host.
    private var knownIPs: Set<IPAddress> = []
    private var knownIDs: Set<NodeID> = []
    private var knownPeers: Set<PeerAddress> = []

    /// Peers found (`values`), without repeats, in the order they arrived.
    public private(set) var peers: [PeerAddress] = []
    /// Queries handed out by ``next(now:)``.
    public private(set) var queriesSent = 0
    /// Answers accepted.
    public private(set) var responses = 0
    /// The most hops from the seeds to a node that answered (a seed that answers is 1 hop).
    public private(set) var hops = 0

    /// A lookup of `target` starting from `seeds` (typically the routing table's nodes nearest to it) and
    /// `bootstrap` addresses whose ids are unknown (such as well-known routers), which are asked last.
    public init(target: NodeID, family: AddressFamily, seeds: [NodeInfo], bootstrap: [PeerAddress] = [],
                configuration: Configuration = Configuration()) {
        self.target = target
        self.family = family
        self.configuration = configuration
        for seed in seeds { add(id: seed.id, address: seed.address, hop: 1) }
        for address in bootstrap { add(id: nil, address: address, hop: 1) }
    }

    // MARK: Events

    /// The addresses to query now (`find_node` or `get_peers` for ``target``). Also applies timeouts as of
    /// `now`. Returns nothing once finished, or while ``Configuration/alpha`` queries are outstanding.
    public mutating func next(now: ContinuousClock.Instant) -> [PeerAddress] {
        for index in candidates.indices {
            guard case .inFlight(let sentAt, let slow) = candidates[index].state else { continue }
            if now - sentAt >= configuration.timeout {
                candidates[index].state = .failed
            } else if !slow, now - sentAt >= configuration.shortTimeout {
                // Asked again at once, up to the retries, before it counts as slow.
                candidates[index].state = candidates[index].sends <= configuration.retries ? .fresh : .inFlight(sentAt: sentAt, slow: true)
            }
        }
        guard !isFinished else { return [] }
        var outstanding = outstandingQueries
        var chosen: [PeerAddress] = []
        for index in windowIndices where outstanding < configuration.alpha && queriesSent < configuration.maxQueries {
            guard case .fresh = candidates[index].state else { continue }
            candidates[index].state = .inFlight(sentAt: now, slow: false)
            candidates[index].sends += 1
            outstanding += 1
            queriesSent += 1
            chosen.append(candidates[index].address)
        }
        return chosen
    }

    /// The node at `address` answered with its `id`, the `nodes` it knows nearest the target (of this lookup's
    /// family), the peers in `values`, and a write `token`. Answers from addresses not queried, or arriving after
    /// their timeout, are ignored; so is an answer whose id is not the one the node was known by.
    public mutating func received(from address: PeerAddress, id: NodeID, nodes: [NodeInfo], values: [PeerAddress] = [],
                                  token: [UInt8]? = nil) {
        guard let index = candidates.firstIndex(where: { $0.address == address }) else { return }
        // Asked and not yet answered: in flight, or waiting to be asked again after a late first query.
        switch candidates[index].state {
        case .inFlight: break
        case .fresh where candidates[index].sends > 0: break
        default: return
        }
        let hop = candidates[index].hop
        if let known = candidates[index].id {
            guard known == id else {
                candidates[index].state = .failed
                return
            }
        } else {
            // A bootstrap node: now that its id is known, it takes its place by distance (unless that id is
            // already a candidate elsewhere).
            var candidate = candidates.remove(at: index)
            guard knownIDs.insert(id).inserted else { return }
            candidate.id = id
            candidate.distance = id.distance(to: target)
            candidates.insert(candidate, at: insertionIndex(for: candidate))
        }
        let counts = !configuration.enforceSecureIDs || id.isAcceptable(for: address.ip)
        setState(counts ? .responded(token: token) : .failed, forAddress: address)
        responses += 1
        hops = max(hops, hop)
        for peer in values where peers.count < configuration.maxPeers && knownPeers.insert(peer).inserted {
            peers.append(peer)
        }
        for node in nodes where node.family == family {
            add(id: node.id, address: node.address, hop: hop + 1)
        }
    }

    /// The query to `address` failed (an error reply, or the owner's own timeout).
    public mutating func failed(_ address: PeerAddress) {
        guard let index = candidates.firstIndex(where: { $0.address == address }),
              case .inFlight = candidates[index].state else { return }
        candidates[index].state = .failed
    }

    // MARK: Results

    /// Whether the lookup is over: no query is worth sending and none that counts is outstanding.
    public var isFinished: Bool {
        let window = windowIndices
        let allAnswered = window.allSatisfy { index in
            if case .responded = candidates[index].state { return true }
            return false
        }
        return allAnswered || (queriesSent >= configuration.maxQueries && outstandingQueries == 0)
    }

    /// The ``Configuration/resultCount`` nearest nodes that answered, nearest first, with their tokens: after a
    /// `get_peers` lookup, where to send `announce_peer`.
    public var closest: [Responder] {
        var result: [Responder] = []
        for candidate in candidates where result.count < configuration.resultCount {
            guard case .responded(let token) = candidate.state, let id = candidate.id else { continue }
            result.append(Responder(node: NodeInfo(id: id, address: candidate.address), token: token))
        }
        return result
    }

    /// Queries sent and neither answered, failed nor slow.
    public var outstandingQueries: Int {
        candidates.reduce(0) { count, candidate in
            if case .inFlight(_, slow: false) = candidate.state { return count + 1 }
            return count
        }
    }

    // MARK: Candidates

    /// The nearest ``Configuration/resultCount`` candidates still in the running: not failed, not slow.
    private var windowIndices: [Int] {
        var window: [Int] = []
        for index in candidates.indices where window.count < configuration.resultCount {
            switch candidates[index].state {
            case .failed, .inFlight(_, slow: true): continue
            case .fresh, .inFlight, .responded: window.append(index)
            }
        }
        return window
    }

    private mutating func setState(_ state: State, forAddress address: PeerAddress) {
        if let index = candidates.firstIndex(where: { $0.address == address }) { candidates[index].state = state }
    }

    /// Adds a candidate not seen before (by address or id), then trims the farthest unqueried ones.
    private mutating func add(id: NodeID?, address: PeerAddress, hop: Int) {
        guard address.port != 0, AddressFamily(address.ip) == family, !knownAddresses.contains(address),
              address.ip.isLoopback || !knownIPs.contains(address.ip) else { return }
        if let id { guard knownIDs.insert(id).inserted else { return } }
        knownAddresses.insert(address)
        knownIPs.insert(address.ip)
        let candidate = Candidate(id: id, address: address, distance: id?.distance(to: target), hop: hop, state: .fresh)
        candidates.insert(candidate, at: insertionIndex(for: candidate))
        if candidates.count > configuration.maxCandidates, let farthest = candidates.lastIndex(where: {
            if case .fresh = $0.state { return true }
            return false
        }) {
            candidates.remove(at: farthest)
        }
    }

    /// Where `candidate` goes to keep the list nearest first (unknown ids last).
    private func insertionIndex(for candidate: Candidate) -> Int {
        var low = 0
        var high = candidates.count
        while low < high {
            let middle = (low + high) / 2
            if Self.precedes(candidates[middle], candidate) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private static func precedes(_ a: Candidate, _ b: Candidate) -> Bool {
        switch (a.distance, b.distance) {
        case (let x?, let y?): x < y
        case (.some, nil): true
        case (nil, _): false
        }
    }
}
