import Bencode
import Metainfo

/// The Kademlia routing table of BEP 5, for one address family (BEP 32 keeps the IPv4 and IPv6 DHTs apart, so a
/// dual-stack node has two).
///
/// Buckets of ``Configuration/bucketSize`` nodes cover the id space; only the bucket that covers our own id
/// splits, so the table knows many nodes near us and a few far away. Each bucket keeps a small replacement
/// cache of nodes that did not fit, promoted when a member goes bad.
///
/// The table does no I/O and reads no clock: its owner reports what happened (``noteResponse(from:now:)``,
/// ``noteQuery(from:isReadOnly:now:)``, ``noteFailure(of:now:)``) with the time, and gets back what to do, such
/// as a node to ping. A simulation can therefore run it on virtual time.
public struct RoutingTable: Sendable {
    /// The table's rules, with libtorrent's and BEP 5's values as defaults.
    public struct Configuration: Sendable, Hashable {
        /// K: nodes per bucket (BEP 5: 8).
        public var bucketSize: Int
        /// Nodes kept per bucket in reserve (libtorrent keeps as many as the bucket holds).
        public var replacementCacheSize: Int
        /// How many table entries (bucket members and replacements) one IP address may hold. 1 keeps one host
        /// from filling the table. Loopback addresses are not limited: nobody else can send from them, and nodes
        /// on one machine (tests, simulations) all share them.
        public var maxNodesPerIP: Int
        /// BEP 42: refuse nodes whose id is not secure for their address (local addresses are exempt).
        public var enforceSecureIDs: Bool
        /// Consecutive failures that make a node bad. BEP 5 suggests trying once more before discarding a node,
        /// so 2. (libtorrent swaps a node that failed once for a waiting replacement, and drops it after 20
        /// failures when there is none; here a bad node stays until something can take its place.)
        public var failureLimit: Int
        /// How long a response, or a query from a node that has responded before, keeps a node good (BEP 5: 15
        /// minutes).
        public var goodWindow: Duration
        /// How long a bucket may go unchanged before it should be refreshed (BEP 5: 15 minutes).
        public var refreshInterval: Duration
        /// How long after asking for a node to be pinged the table waits before asking again (the query
        /// timeout).
        public var pingRetryDelay: Duration

        public init(bucketSize: Int = 8, replacementCacheSize: Int = 8, maxNodesPerIP: Int = 1, enforceSecureIDs: Bool = false,
                    failureLimit: Int = 2, goodWindow: Duration = .seconds(15 * 60), refreshInterval: Duration = .seconds(15 * 60),
                    pingRetryDelay: Duration = .seconds(15)) {
            precondition(bucketSize > 0 && replacementCacheSize >= 0 && maxNodesPerIP > 0 && failureLimit > 0)
            self.bucketSize = bucketSize
            self.replacementCacheSize = replacementCacheSize
            self.maxNodesPerIP = maxNodesPerIP
            self.enforceSecureIDs = enforceSecureIDs
            self.failureLimit = failureLimit
            self.goodWindow = goodWindow
            self.refreshInterval = refreshInterval
            self.pingRetryDelay = pingRetryDelay
        }
    }

    /// How much a node can be trusted to answer (BEP 5).
    public enum Liveness: Sendable, Hashable {
        /// Responded within the good window, or has responded before and queried us within it.
        case good
        /// Not heard from lately, or never responded (a node loaded from disk).
        case questionable
        /// Failed ``Configuration/failureLimit`` queries in a row.
        case bad
    }

    /// A node in the table and what we know of it.
    public struct Entry: Sendable, Hashable {
        /// The node.
        public let node: NodeInfo
        /// When it last answered one of our queries; nil if it never has.
        public internal(set) var lastResponse: ContinuousClock.Instant?
        /// When it last sent us a query.
        public internal(set) var lastQuery: ContinuousClock.Instant?
        /// Queries in a row it failed to answer.
        public internal(set) var failures = 0
        /// When the table last asked for it to be pinged.
        var pingRequested: ContinuousClock.Instant?

        init(node: NodeInfo) { self.node = node }

        /// The last time it was heard from at all.
        var lastSeen: ContinuousClock.Instant? {
            switch (lastResponse, lastQuery) {
            case (let response?, let query?): max(response, query)
            case (let response, let query): response ?? query
            }
        }
    }

    /// One bucket: the nodes whose ids share a given prefix length with ours.
    public struct Bucket: Sendable, Hashable {
        /// The members, at most ``Configuration/bucketSize``.
        public internal(set) var entries: [Entry] = []
        /// Nodes waiting for a place, oldest first.
        public internal(set) var replacements: [Entry] = []
        /// When a node was last added, replaced or heard from; nil if never, which calls for a refresh.
        public internal(set) var lastChanged: ContinuousClock.Instant?
    }

    /// What became of a node reported by ``noteResponse(from:now:)``.
    public enum Insertion: Sendable, Hashable {
        /// It joined a bucket.
        case added
        /// It was already in the table; its liveness was renewed.
        case updated
        /// Its bucket is full of nodes not known to be bad; it waits in the replacement cache. When a member
        /// is questionable, `ping` names the one to ping: if it fails, the waiting node takes its place.
        case cached(ping: NodeInfo?)
        /// It may not enter the table.
        case rejected(Rejection)
    }

    /// Why a node may not enter the table.
    public enum Rejection: Sendable, Hashable {
        /// It has our id.
        case ownID
        /// Port 0: nothing can be sent there.
        case portZero
        /// Its address is of the other family.
        case wrongFamily
        /// BEP 42 enforcement is on and its id is not secure for its address.
        case insecureID
        /// Its IP address already holds ``Configuration/maxNodesPerIP`` entries.
        case addressLimit
        /// Its id is in the table at another address.
        case idConflict
    }

    /// The most saved nodes read back: a full table of 160 buckets of 8.
    public static let maxPersistedNodes = NodeID.bitCount * 8

    /// Our id: the table is organised around it.
    public let ownID: NodeID
    /// The address family of every node in the table.
    public let family: AddressFamily
    /// The rules.
    public let configuration: Configuration
    /// The buckets, from the farthest (ids differing from ours in the first bit) to the one that covers our id.
    public private(set) var buckets: [Bucket] = [Bucket()]
    /// Entries (members and replacements) per IP address, for ``Configuration/maxNodesPerIP``.
    private var entriesPerIP: [IPAddress: Int] = [:]

    /// Whether `ip` may hold one more entry.
    private func hasPlace(for ip: IPAddress) -> Bool {
        ip.isLoopback || entriesPerIP[ip, default: 0] < configuration.maxNodesPerIP
    }

    /// An empty table: one bucket covering the whole id space.
    public init(ownID: NodeID, family: AddressFamily, configuration: Configuration = Configuration()) {
        self.ownID = ownID
        self.family = family
        self.configuration = configuration
    }

    /// The number of nodes in buckets (replacements not counted).
    public var count: Int { buckets.reduce(0) { $0 + $1.entries.count } }

    /// The entry for `id`, in a bucket or a replacement cache.
    public func entry(for id: NodeID) -> Entry? {
        let bucket = buckets[bucketIndex(for: id)]
        return bucket.entries.first { $0.node.id == id } ?? bucket.replacements.first { $0.node.id == id }
    }

    /// How much `entry` can be trusted at `now`.
    public func liveness(of entry: Entry, now: ContinuousClock.Instant) -> Liveness {
        if entry.failures >= configuration.failureLimit { return .bad }
        guard let response = entry.lastResponse else { return .questionable }
        if now - response < configuration.goodWindow { return .good }
        if let query = entry.lastQuery, now - query < configuration.goodWindow { return .good }
        return .questionable
    }

    /// The index of the bucket that covers `id`.
    public func bucketIndex(for id: NodeID) -> Int {
        min(ownID.commonPrefixLength(with: id), buckets.count - 1)
    }

    // MARK: Events

    /// A node answered one of our queries: it is alive and reachable, so it is added or renewed.
    public mutating func noteResponse(from node: NodeInfo, now: ContinuousClock.Instant) -> Insertion {
        insert(node, respondedAt: now, now: now)
    }

    /// A node sent us a query. A known node's `lastQuery` is renewed. An unknown one is not added, since it has
    /// not shown it can answer; instead, if the table would take it, it is returned to be pinged, and its
    /// answer adds it. Read-only senders (BEP 43) are never added. The owner should not ping a node it is
    /// already waiting on.
    public mutating func noteQuery(from node: NodeInfo, isReadOnly: Bool, now: ContinuousClock.Instant) -> NodeInfo? {
        guard !isReadOnly else { return nil }
        let index = bucketIndex(for: node.id)
        if let member = buckets[index].entries.firstIndex(where: { $0.node == node }) {
            buckets[index].entries[member].lastQuery = now
            return nil
        }
        if let waiting = buckets[index].replacements.firstIndex(where: { $0.node == node }) {
            buckets[index].replacements[waiting].lastQuery = now
            return nil
        }
        return wouldTake(node, now: now) ? node : nil
    }

    /// Whether an unknown node, once it answers, would join a bucket now: it is acceptable, not known, and its
    /// bucket has room (or a member that never answered or is bad, or can split). Nodes that other nodes name
    /// are pinged only then, so a full table costs no traffic.
    public func wouldTake(_ node: NodeInfo, now: ContinuousClock.Instant) -> Bool {
        guard rejection(for: node) == nil else { return false }
        let index = bucketIndex(for: node.id)
        let bucket = buckets[index]
        guard !bucket.entries.contains(where: { $0.node.id == node.id || $0.node.address == node.address }),
              !bucket.replacements.contains(where: { $0.node.address == node.address }), hasPlace(for: node.address.ip) else { return false }
        return bucket.entries.count < configuration.bucketSize
            || bucket.entries.contains { $0.lastResponse == nil || liveness(of: $0, now: now) == .bad }
            || (index == buckets.count - 1 && buckets.count < NodeID.bitCount)
    }

    /// A query to `node` timed out or was refused. After ``Configuration/failureLimit`` failures in a row the
    /// node is bad; if a replacement that has responded is waiting, it takes the bad node's place and is
    /// returned. A bad node with no replacement stays until a new node can take its place.
    @discardableResult
    public mutating func noteFailure(of node: NodeInfo, now: ContinuousClock.Instant) -> NodeInfo? {
        let index = bucketIndex(for: node.id)
        if let waiting = buckets[index].replacements.firstIndex(where: { $0.node == node }) {
            buckets[index].replacements[waiting].failures += 1
            if buckets[index].replacements[waiting].failures >= configuration.failureLimit {
                release(buckets[index].replacements.remove(at: waiting))
            }
            return nil
        }
        guard let member = buckets[index].entries.firstIndex(where: { $0.node == node }) else { return nil }
        buckets[index].entries[member].failures += 1
        guard buckets[index].entries[member].failures >= configuration.failureLimit,
              let promoted = buckets[index].replacements.lastIndex(where: { $0.lastResponse != nil && $0.failures == 0 })
        else { return nil }
        release(buckets[index].entries.remove(at: member))
        let replacement = buckets[index].replacements.remove(at: promoted)
        buckets[index].entries.append(replacement)
        buckets[index].lastChanged = now
        return replacement.node
    }

    // MARK: Queries

    /// Up to `count` nodes closest to `target`, nearest first. Bad nodes are left out; with `verifiedOnly`, so
    /// are nodes that never answered us (loaded from disk), which suits answers to other nodes.
    public func closest(to target: NodeID, count: Int = 8, verifiedOnly: Bool = false) -> [NodeInfo] {
        var candidates: [(distance: NodeID, node: NodeInfo)] = []
        for bucket in buckets {
            for entry in bucket.entries where entry.failures < configuration.failureLimit {
                if verifiedOnly, entry.lastResponse == nil { continue }
                candidates.append((entry.node.id.distance(to: target), entry.node))
            }
        }
        candidates.sort { $0.distance < $1.distance }
        return candidates.prefix(count).map(\.node)
    }

    /// The buckets not changed for ``Configuration/refreshInterval``, or never: each calls for a `find_node`
    /// lookup of ``refreshTarget(forBucket:using:)``.
    public func bucketsNeedingRefresh(now: ContinuousClock.Instant) -> [Int] {
        buckets.indices.filter { index in
            guard let changed = buckets[index].lastChanged else { return true }
            return now - changed >= configuration.refreshInterval
        }
    }

    /// A random id that bucket `index` covers: the lookup target that refreshes it.
    public func refreshTarget(forBucket index: Int, using generator: inout some RandomNumberGenerator) -> NodeID {
        precondition(buckets.indices.contains(index), "no such bucket")
        if index == buckets.count - 1 { return ownID.randomized(keepingPrefix: index, using: &generator) }
        return ownID.flippingBit(at: index).randomized(keepingPrefix: index + 1, using: &generator)
    }

    // MARK: Insertion

    /// Why `node` may not enter the table at all, or nil.
    private func rejection(for node: NodeInfo) -> Rejection? {
        if node.id == ownID { return .ownID }
        if node.address.port == 0 { return .portZero }
        if node.family != family { return .wrongFamily }
        if configuration.enforceSecureIDs, !node.id.isAcceptable(for: node.address.ip) { return .insecureID }
        return nil
    }

    /// Adds or renews `node`; `respondedAt` is nil for a node not heard from (loaded from disk).
    private mutating func insert(_ node: NodeInfo, respondedAt: ContinuousClock.Instant?, now: ContinuousClock.Instant?) -> Insertion {
        if let rejection = rejection(for: node) { return .rejected(rejection) }
        var index = bucketIndex(for: node.id)
        if let member = buckets[index].entries.firstIndex(where: { $0.node.id == node.id }) {
            guard buckets[index].entries[member].node.address == node.address else { return .rejected(.idConflict) }
            if let respondedAt {
                buckets[index].entries[member].lastResponse = respondedAt
                buckets[index].entries[member].failures = 0
                buckets[index].entries[member].pingRequested = nil
                buckets[index].lastChanged = respondedAt
            }
            return .updated
        }
        var entry = Entry(node: node)
        if let waiting = buckets[index].replacements.firstIndex(where: { $0.node.id == node.id }) {
            guard buckets[index].replacements[waiting].node.address == node.address else { return .rejected(.idConflict) }
            entry = buckets[index].replacements.remove(at: waiting)
        } else {
            guard hasPlace(for: node.address.ip) else { return .rejected(.addressLimit) }
            entriesPerIP[node.address.ip, default: 0] += 1
        }
        if let respondedAt {
            entry.lastResponse = respondedAt
            entry.failures = 0
        }
        while true {
            index = bucketIndex(for: node.id)
            if buckets[index].entries.count < configuration.bucketSize {
                buckets[index].entries.append(entry)
                if let respondedAt { buckets[index].lastChanged = respondedAt }
                return .added
            }
            // A bad member gives way to anyone; a member that never answered gives way to one that did.
            if let now, let weak = buckets[index].entries.firstIndex(where: {
                liveness(of: $0, now: now) == .bad || (respondedAt != nil && $0.lastResponse == nil)
            }) {
                release(buckets[index].entries.remove(at: weak))
                buckets[index].entries.append(entry)
                buckets[index].lastChanged = now
                return .added
            }
            if index == buckets.count - 1, buckets.count < NodeID.bitCount {
                split()
                continue
            }
            cache(entry, inBucket: index)
            return .cached(ping: now.flatMap { pingCandidate(inBucket: index, now: $0) })
        }
    }

    /// Keeps `entry` in reserve, dropping the oldest reserve when the cache is full.
    private mutating func cache(_ entry: Entry, inBucket index: Int) {
        guard configuration.replacementCacheSize > 0 else { return release(entry) }
        if buckets[index].replacements.count >= configuration.replacementCacheSize {
            release(buckets[index].replacements.removeFirst())
        }
        buckets[index].replacements.append(entry)
    }

    /// The least recently seen questionable member not pinged lately, marked as pinged.
    private mutating func pingCandidate(inBucket index: Int, now: ContinuousClock.Instant) -> NodeInfo? {
        let questionable = buckets[index].entries.indices.filter { member in
            let entry = buckets[index].entries[member]
            if let asked = entry.pingRequested, now - asked < configuration.pingRetryDelay { return false }
            return liveness(of: entry, now: now) == .questionable
        }
        // Never seen sorts first: it is the least recently seen of all.
        guard let oldest = questionable.min(by: { a, b in
            let seenA = buckets[index].entries[a].lastSeen
            let seenB = buckets[index].entries[b].lastSeen
            guard let seenB else { return false }
            guard let seenA else { return true }
            return seenA < seenB
        }) else { return nil }
        buckets[index].entries[oldest].pingRequested = now
        return buckets[index].entries[oldest].node
    }

    /// Splits the last bucket (the one covering our id) in two; each half's free places are filled from its
    /// replacements, the most recent that responded first.
    private mutating func split() {
        let depth = buckets.count - 1
        let old = buckets[depth]
        var far = Bucket(lastChanged: old.lastChanged)
        var near = Bucket(lastChanged: old.lastChanged)
        for entry in old.entries {
            if ownID.commonPrefixLength(with: entry.node.id) > depth { near.entries.append(entry) } else { far.entries.append(entry) }
        }
        for entry in old.replacements {
            if ownID.commonPrefixLength(with: entry.node.id) > depth { near.replacements.append(entry) } else { far.replacements.append(entry) }
        }
        promoteReplacements(&far)
        promoteReplacements(&near)
        buckets[depth] = far
        buckets.append(near)
    }

    /// Moves replacements into a bucket's free places.
    private func promoteReplacements(_ bucket: inout Bucket) {
        while bucket.entries.count < configuration.bucketSize, !bucket.replacements.isEmpty {
            let pick = bucket.replacements.lastIndex { $0.lastResponse != nil } ?? bucket.replacements.count - 1
            bucket.entries.append(bucket.replacements.remove(at: pick))
        }
    }

    /// Forgets an entry's claim on its IP address.
    private mutating func release(_ entry: Entry) {
        let ip = entry.node.address.ip
        entriesPerIP[ip, default: 1] -= 1
        if entriesPerIP[ip] == 0 { entriesPerIP[ip] = nil }
    }
}

// MARK: - Persistence

extension RoutingTable {
    /// The table as bencode, to load at the next start (BEP 5 asks that it be kept): our id and the compact form
    /// of every member not known to be bad, `d2:id20:…5:nodesl26:…ee`.
    public func encodeForPersistence() -> [UInt8] {
        var dictionary = BencodeDictionary()
        dictionary["id"] = .string(ownID.bytes)
        let nodes = buckets.flatMap(\.entries).filter { $0.failures < configuration.failureLimit }
        dictionary["nodes"] = .list(BencodeList(nodes.map { .string($0.node.compact) }))
        return BencodeValue.dictionary(dictionary).encoded()
    }

    /// A table loaded from ``encodeForPersistence()``'s bytes. The nodes have not answered since, so they are
    /// questionable: usable to start lookups, first to be pinged or replaced, and every bucket is due for a
    /// refresh. At most ``maxPersistedNodes`` are read; nodes the table refuses (another family, a full
    /// address, an insecure id under enforcement) are skipped.
    public init(persisted bytes: [UInt8], family: AddressFamily, configuration: Configuration = Configuration())
        throws(RoutingTablePersistenceError) {
        let width = family.compactNodeLength
        let decoder = BencodeDecoder(limits: .init(maxInputSize: 64 + Self.maxPersistedNodes * (width + 3), maxStringLength: width,
                                                   maxDepth: 3, maxElements: 8 + Self.maxPersistedNodes))
        let value: BencodeValue
        do { value = try decoder.decode(bytes) } catch { throw RoutingTablePersistenceError("\(error)") }
        guard let dictionary = value.dictionary else { throw RoutingTablePersistenceError("not a dictionary") }
        guard let idBytes = dictionary["id"]?.bytes, let ownID = NodeID(bytes: idBytes) else {
            throw RoutingTablePersistenceError("no 20-byte 'id'")
        }
        guard let list = dictionary["nodes"]?.list else { throw RoutingTablePersistenceError("no 'nodes' list") }
        self.init(ownID: ownID, family: family, configuration: configuration)
        for element in list {
            guard let compact = element.bytes, compact.count == width else {
                throw RoutingTablePersistenceError("a node is not \(width) bytes of compact node info")
            }
            if let node = NodeInfo.parseCompact(compact, family: family)?.first {
                _ = insert(node, respondedAt: nil, now: nil)
            }
        }
    }
}
