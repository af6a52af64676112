import Metainfo
import NIOSupport

/// One DHT node (BEP 5, with BEP 32's second network, BEP 42's checks and BEP 43's read-only mode), without I/O.
///
/// The owner hands it every datagram received (``receive(_:from:now:)``), calls ``tick(now:)`` a few times a
/// second, and sends whatever ``takeOutput()`` returns. Time is passed in, so a simulation can run thousands of
/// nodes on a virtual network and clock. The node answers queries (unless read-only), keeps a routing table per
/// address family, runs lookups (``bootstrap(from:now:)``, ``findPeers(_:announcePort:now:)``), announces after a
/// `get_peers` lookup, refreshes quiet buckets and keeps peers announced to it.
///
/// Hostile input is dropped and counted, never trusted: malformed datagrams, replies to queries never sent (or
/// from another address than the one asked), and queries over the per-source and overall rates. Replies are
/// capped at ``Configuration/maxReplySize`` so a spoofed query cannot make us send much.
public struct DHTNode: Sendable {
    /// How the node behaves.
    public struct Configuration: Sendable {
        /// BEP 43: send queries with `ro=1` and answer none, for nodes that cannot take unsolicited traffic.
        public var readOnly = false
        /// The routing table's rules; BEP 42 is enforced on the nodes it takes (local addresses are exempt).
        public var table = RoutingTable.Configuration(enforceSecureIDs: true)
        public var lookup = Lookup.Configuration()
        public var peerStore = PeerStore.Limits()
        /// Queries answered a second from one IP address, and from everyone together; more are dropped.
        public var queriesPerSourcePerSecond = 20
        public var queriesPerSecond = 1000
        /// The largest reply sent, in bytes: one unfragmented datagram. `values` are trimmed to fit.
        public var maxReplySize = 1200
        /// Peers given in one `get_peers` reply at most (libtorrent gives 100).
        public var maxValuesPerReply = 100
        /// How long a ping or announce waits for its answer.
        public var queryTimeout: Duration = .seconds(10)
        /// Queries awaiting an answer at most; past it no query is sent until some are answered or time out.
        public var maxPendingQueries = 4096
        /// `v`: two letters of client and two bytes of version.
        public var clientVersion: [UInt8] = Array("SH".utf8) + [0, 1]

        public init() {}
    }

    /// Counters since the start.
    public struct Statistics: Sendable, Hashable {
        public var datagramsIn = 0
        public var datagramsOut = 0
        public var bytesIn = 0
        public var bytesOut = 0
        public var queriesReceived = 0
        public var queriesAnswered = 0
        public var queriesSent = 0
        public var responsesReceived = 0
        public var errorsReceived = 0
        public var timeouts = 0
        /// Dropped: not KRPC, or breaking its limits.
        public var malformed = 0
        /// Dropped: a reply to no query of ours, or from another address than the one asked.
        public var unsolicited = 0
        /// Dropped: queries over the rate limits, or received while read-only.
        public var rateLimited = 0
        public var peersAnnouncedToUs = 0
        public init() {}
    }

    /// A datagram to send, or one received.
    public struct Datagram: Sendable, Hashable {
        public var bytes: [UInt8]
        public var address: PeerAddress
        public init(bytes: [UInt8], address: PeerAddress) {
            self.bytes = bytes
            self.address = address
        }
    }

    /// Identifies a lookup started by ``bootstrap(from:now:)`` or ``findPeers(_:announcePort:now:)``.
    public typealias LookupID = Int

    /// What the owner should know.
    public enum Event: Sendable, Hashable {
        /// A `get_peers` lookup found peers for `infoHash` (only those not reported before by this lookup).
        case peers(infoHash: SHA1Hash, [PeerAddress])
        /// A lookup ended after `queries` queries, the farthest answer `hops` away; `announcedTo` nodes were sent
        /// `announce_peer`.
        case lookupFinished(LookupID, target: NodeID, hops: Int, queries: Int, peers: Int, announcedTo: Int)
    }

    private enum Purpose: Sendable, Hashable {
        case ping
        /// A ping to a node another node named, to add it to the table.
        case probe
        case lookup(LookupID)
        case announce
    }

    private struct Pending: Sendable {
        let address: PeerAddress
        let sentAt: ContinuousClock.Instant
        let purpose: Purpose
    }

    private struct Running: Sendable {
        var lookup: Lookup
        /// For a `get_peers` lookup: the info-hash, and the port to announce once it ends (nil: no announce).
        let getPeers: (infoHash: SHA1Hash, announcePort: UInt16?)?
        var peersReported = 0
    }

    /// Our id: random at first, then secure for our external address (BEP 42) once nodes agree on it.
    public private(set) var id: NodeID
    public let configuration: Configuration
    /// One routing table per address family the node runs in.
    public private(set) var tables: [AddressFamily: RoutingTable]
    public private(set) var statistics = Statistics()
    private var peerStore: PeerStore
    private var tokens: TokenIssuer<SplitMix64>
    private var random: SplitMix64
    private var pending: [TransactionID: Pending] = [:]
    private var nextTransaction: UInt16
    private var lookups: [LookupID: Running] = [:]
    private var nextLookup = 0
    private var outbox: [Datagram] = []
    private var events: [Event] = []
    /// Queries answered, per source and in all, each second.
    private var queryLimit: ArrivalLimiter
    private var nextMaintenance: ContinuousClock.Instant
    /// When each bucket was last refreshed by a lookup of ours, per family.
    private var refreshed: [AddressFamily: [Int: ContinuousClock.Instant]] = [:]
    /// The addresses given to ``bootstrap(from:now:)``, asked again while a table is nearly empty.
    private var bootstrapAddresses: [PeerAddress] = []
    /// The address answers say our queries came from (BEP 42 `ip`): per address, the /24 networks that said so.
    private var externalVotes: [IPAddress: Set<UInt32>] = [:]
    private var lastIDChange: ContinuousClock.Instant?
    /// Networks that must agree before an address is taken as ours, and the least time between id changes.
    static let externalAddressVotes = 5
    static let idChangeInterval: Duration = .seconds(3600)
    /// Pings to nodes named in answers awaiting their reply, and the most allowed at once.
    private var pingsPending = 0
    static let maxPendingPings = 8
    /// How often the node looks after its tables: refreshes, a new bootstrap when nearly empty, peer expiry.
    static let maintenanceInterval: Duration = .seconds(5)

    /// A node with id `id` in the `families` given, starting with `tables` (loaded from disk) where given.
    /// `seed` drives its random choices (transaction ids, refresh targets), `tokenSeed` its token secrets: two
    /// independent seeds, since refresh targets show the first generator's output on the wire and the second must
    /// stay secret.
    public init(id: NodeID, families: Set<AddressFamily> = [.v4, .v6], configuration: Configuration = Configuration(),
                tables loaded: [AddressFamily: RoutingTable] = [:], now: ContinuousClock.Instant, seed: UInt64, tokenSeed: UInt64? = nil) {
        self.id = id
        self.configuration = configuration
        var tables: [AddressFamily: RoutingTable] = [:]
        for family in families {
            if let table = loaded[family], table.ownID == id {
                tables[family] = table
            } else {
                tables[family] = RoutingTable(ownID: id, family: family, configuration: configuration.table)
            }
        }
        self.tables = tables
        peerStore = PeerStore(limits: configuration.peerStore)
        random = SplitMix64(seed: seed)
        tokens = TokenIssuer(now: now, source: SplitMix64(seed: tokenSeed ?? seed ^ 0x5EED_70C3_A5A5_0001))
        nextTransaction = UInt16(truncatingIfNeeded: seed >> 16)
        queryLimit = ArrivalLimiter(perSource: configuration.queriesPerSourcePerSecond, per: .seconds(1),
                                    perSecond: configuration.queriesPerSecond)
        nextMaintenance = now + Self.maintenanceInterval
    }

    /// Datagrams to send and events since the last call.
    public mutating func takeOutput() -> (datagrams: [Datagram], events: [Event]) {
        defer {
            outbox.removeAll(keepingCapacity: true)
            events.removeAll(keepingCapacity: true)
        }
        return (outbox, events)
    }

    /// Lookups running now.
    public var activeLookups: Int { lookups.count }

    /// Whether a query or lookup is under way, so ``tick(now:)`` has timeouts to apply before the next
    /// maintenance: a host with many idle nodes (a simulation) may tick the others less often.
    public var isBusy: Bool { !pending.isEmpty || !lookups.isEmpty }

    /// Nodes in the routing tables.
    public var nodeCount: Int { tables.values.reduce(0) { $0 + $1.count } }

    // MARK: Starting lookups

    /// Joins the network: a `find_node` lookup of our own id in each family, from the table's nodes and the
    /// bootstrap addresses of that family (whose ids are unknown until they answer).
    @discardableResult
    public mutating func bootstrap(from addresses: [PeerAddress], now: ContinuousClock.Instant) -> [LookupID] {
        // Answers come from unmapped addresses: an IPv4-mapped one would never match its own answer.
        bootstrapAddresses = addresses.prefix(64).map { PeerAddress(ip: $0.ip.unmapped, port: $0.port) }
        let addresses = bootstrapAddresses
        return tables.keys.sorted { $0 == .v4 && $1 == .v6 }.compactMap { family in
            let bootstrap = addresses.filter { AddressFamily($0.ip) == family }
            return start(target: id, family: family, bootstrap: bootstrap, getPeers: nil, now: now)
        }
    }

    /// A node a peer named (BEP 5's `port` message): pinged, and added to the table if it answers and has room.
    public mutating func addNode(_ address: PeerAddress, now: ContinuousClock.Instant) {
        let address = PeerAddress(ip: address.ip.unmapped, port: address.port)
        guard address.port != 0, tables[AddressFamily(address.ip)] != nil else { return }
        probe(address, now: now)
    }

    /// Looks for peers of `infoHash` in every family; with `announcePort`, announces us as a peer on that port
    /// to the nearest nodes that answered once the lookup ends (a read-only node still may).
    @discardableResult
    public mutating func findPeers(_ infoHash: SHA1Hash, announcePort: UInt16?, now: ContinuousClock.Instant) -> [LookupID] {
        tables.keys.sorted { $0 == .v4 && $1 == .v6 }.compactMap { family in
            start(target: NodeID(infoHash), family: family, bootstrap: [], getPeers: (infoHash, announcePort), now: now)
        }
    }

    private mutating func start(target: NodeID, family: AddressFamily, bootstrap: [PeerAddress],
                                getPeers: (infoHash: SHA1Hash, announcePort: UInt16?)?, now: ContinuousClock.Instant) -> LookupID? {
        guard let table = tables[family] else { return nil }
        let seeds = table.closest(to: target, count: configuration.lookup.maxCandidates)
        guard !seeds.isEmpty || !bootstrap.isEmpty else { return nil }
        let lookup = Lookup(target: target, family: family, seeds: seeds, bootstrap: bootstrap, configuration: configuration.lookup)
        nextLookup += 1
        lookups[nextLookup] = Running(lookup: lookup, getPeers: getPeers)
        advance(nextLookup, now: now)
        return nextLookup
    }

    // MARK: Input

    /// Takes in one datagram from `address`.
    public mutating func receive(_ bytes: [UInt8], from address: PeerAddress, now: ContinuousClock.Instant) {
        statistics.datagramsIn += 1
        statistics.bytesIn += bytes.count
        let family = AddressFamily(address.ip)
        let message: KRPCMessage
        do { message = try KRPCMessage(decoding: bytes) } catch {
            statistics.malformed += 1
            return
        }
        guard tables[family] != nil, address.port != 0 else {
            statistics.malformed += 1
            return
        }
        switch message.body {
        case .query(let query): answer(query, of: message, from: address, family: family, now: now)
        case .response(let response): take(response, of: message, from: address, family: family, now: now)
        case .error:
            guard let exchange = claim(message.transactionID, from: address) else { return }
            statistics.errorsReceived += 1
            failed(exchange, now: now)
        }
    }

    /// Applies timeouts, moves lookups on, refreshes quiet buckets and expires stored peers. Call it a few times a
    /// second.
    public mutating func tick(now: ContinuousClock.Instant) {
        let lookupTimeout = configuration.lookup.timeout
        for (transaction, exchange) in pending {
            let limit = if case .lookup = exchange.purpose { lookupTimeout } else { configuration.queryTimeout }
            guard now - exchange.sentAt >= limit else { continue }
            pending[transaction] = nil
            if exchange.purpose == .probe { pingsPending -= 1 }
            statistics.timeouts += 1
            failed(exchange, now: now)
        }
        for lookup in Array(lookups.keys) { advance(lookup, now: now) }
        if now >= nextMaintenance {
            nextMaintenance = now + Self.maintenanceInterval
            peerStore.expire(now: now)
            refreshBuckets(now: now)
        }
    }

    // MARK: Queries to us

    private mutating func answer(_ query: KRPCMessage.Query, of message: KRPCMessage, from address: PeerAddress, family: AddressFamily,
                                 now: ContinuousClock.Instant) {
        statistics.queriesReceived += 1
        guard !configuration.readOnly, queryLimit.admit(address.ip, now: now) else {
            statistics.rateLimited += 1
            return
        }
        guard query.sender != id else { return }
        let sender = NodeInfo(id: query.sender, address: address)
        if let unknown = tables[family]?.noteQuery(from: sender, isReadOnly: message.isReadOnly, now: now) {
            probe(unknown.address, now: now)
        }
        var response = KRPCMessage.Response(id: id)
        switch query.method {
        case .ping:
            break
        case .findNode(let target, let want):
            fill(&response, closestTo: target, want: want, family: family)
        case .getPeers(let infoHash, let want):
            response.token = tokens.token(for: address.ip, now: now)
            response.values = peerStore.peers(for: infoHash, family: family, max: configuration.maxValuesPerReply, now: now, using: &random)
            if response.values.isEmpty { fill(&response, closestTo: NodeID(infoHash), want: want, family: family) }
        case .announcePeer(let infoHash, let port, let impliedPort, let token):
            guard tokens.isValid(token, for: address.ip, now: now), impliedPort || port != 0 else {
                return reply(.error(.protocolError("bad token")), to: message, at: address)
            }
            peerStore.announce(PeerAddress(ip: address.ip, port: impliedPort ? address.port : port), for: infoHash, now: now)
            statistics.peersAnnouncedToUs += 1
        case .unknown:
            return reply(.error(.methodUnknown), to: message, at: address)
        }
        reply(.response(response), to: message, at: address)
    }

    /// The nodes nearest `target` in the families asked for (BEP 32 `want`; none means the query's own), those
    /// that have answered us first.
    private func fill(_ response: inout KRPCMessage.Response, closestTo target: NodeID, want: KRPCMessage.Want, family: AddressFamily) {
        func nearest(_ family: AddressFamily) -> [NodeInfo] {
            guard let table = tables[family] else { return [] }
            let verified = table.closest(to: target, count: 8, verifiedOnly: true)
            return verified.isEmpty ? table.closest(to: target, count: 8) : verified
        }
        if want.contains(.n4) || (want.isEmpty && family == .v4) { response.nodes = nearest(.v4) }
        if want.contains(.n6) || (want.isEmpty && family == .v6) { response.nodes6 = nearest(.v6) }
    }

    private mutating func reply(_ body: KRPCMessage.Body, to query: KRPCMessage, at address: PeerAddress) {
        var message = KRPCMessage(transactionID: query.transactionID, body: body, clientVersion: configuration.clientVersion,
                                  requesterAddress: address)
        message.trimValues(toFit: configuration.maxReplySize)
        let bytes = message.encoded()
        guard bytes.count <= configuration.maxReplySize else { return }
        statistics.queriesAnswered += 1
        emit(bytes, to: address)
    }

    // MARK: Answers to us

    /// The exchange a reply belongs to, taken out of the pending ones; nil (and counted) when we sent no such
    /// query to that address.
    private mutating func claim(_ transaction: TransactionID, from address: PeerAddress) -> Pending? {
        guard let exchange = pending[transaction], exchange.address == address else {
            statistics.unsolicited += 1
            return nil
        }
        pending[transaction] = nil
        if exchange.purpose == .probe { pingsPending -= 1 }
        return exchange
    }

    private mutating func take(_ response: KRPCMessage.Response, of message: KRPCMessage, from address: PeerAddress,
                               family: AddressFamily, now: ContinuousClock.Instant) {
        guard let exchange = claim(message.transactionID, from: address) else { return }
        statistics.responsesReceived += 1
        guard response.id != id else { return }
        if let external = message.requesterAddress?.ip { vote(for: external, from: address.ip, now: now) }
        let node = NodeInfo(id: response.id, address: address)
        if case .cached(let questionable?) = tables[family]?.noteResponse(from: node, now: now) {
            send(.ping, to: questionable.address, purpose: .ping, now: now)
        }
        // Nodes named in answers are pinged where the table has room for them (a few at a time), as libtorrent
        // adds the nodes it hears about: tables fill from lookups, not only from who asks us.
        for named in family == .v4 ? response.nodes : response.nodes6 where pingsPending < Self.maxPendingPings {
            if tables[family]?.wouldTake(named, now: now) == true { probe(named.address, now: now) }
        }
        guard case .lookup(let lookupID) = exchange.purpose, var running = lookups[lookupID] else { return }
        // A query sent again is answered once: the other copy must not time out later as a failure of a live node.
        for (transaction, other) in pending where other.address == address && other.purpose == exchange.purpose {
            pending[transaction] = nil
        }
        let nodes = running.lookup.family == .v4 ? response.nodes : response.nodes6
        running.lookup.received(from: address, id: response.id, nodes: nodes, values: response.values, token: response.token)
        if let getPeers = running.getPeers, running.lookup.peers.count > running.peersReported {
            events.append(.peers(infoHash: getPeers.infoHash, Array(running.lookup.peers[running.peersReported...])))
            running.peersReported = running.lookup.peers.count
        }
        lookups[lookupID] = running
        advance(lookupID, now: now)
    }

    /// A query of ours failed (error reply or timeout): its lookup moves on, and a known node counts a failure.
    private mutating func failed(_ exchange: Pending, now: ContinuousClock.Instant) {
        let family = AddressFamily(exchange.address.ip)
        if let member = tables[family]?.buckets.lazy.flatMap(\.entries).first(where: { $0.node.address == exchange.address }) {
            tables[family]?.noteFailure(of: member.node, now: now)
        }
        if case .lookup(let lookupID) = exchange.purpose {
            lookups[lookupID]?.lookup.failed(exchange.address)
            advance(lookupID, now: now)
        }
    }

    // MARK: Lookups

    /// Sends the queries a lookup wants now; once it is over, announces (if asked) and reports it.
    private mutating func advance(_ lookupID: LookupID, now: ContinuousClock.Instant) {
        guard var running = lookups[lookupID] else { return }
        let method: KRPCMessage.Method = if let getPeers = running.getPeers {
            .getPeers(infoHash: getPeers.infoHash, want: [])
        } else {
            .findNode(target: running.lookup.target, want: [])
        }
        for address in running.lookup.next(now: now) {
            send(method, to: address, purpose: .lookup(lookupID), now: now)
        }
        lookups[lookupID] = running
        guard running.lookup.isFinished else { return }
        lookups[lookupID] = nil
        var announcedTo = 0
        if let getPeers = running.getPeers, let port = getPeers.announcePort {
            for responder in running.lookup.closest {
                guard let token = responder.token else { continue }
                send(.announcePeer(infoHash: getPeers.infoHash, port: port, impliedPort: false, token: token), to: responder.node.address,
                     purpose: .announce, now: now)
                announcedTo += 1
            }
        }
        events.append(.lookupFinished(lookupID, target: running.lookup.target, hops: running.lookup.hops,
                                      queries: running.lookup.queriesSent, peers: running.lookup.peers.count, announcedTo: announcedTo))
    }

    /// BEP 5: a bucket nobody touched for 15 minutes is refreshed by a lookup of a random id in it; after joining,
    /// every bucket is, once. One lookup per family at a time, so refreshing never floods the network. A table with fewer nodes than a bucket holds
    /// (the bootstrap failed, or everyone left) looks up our own id again, through the bootstrap nodes too.
    private mutating func refreshBuckets(now: ContinuousClock.Instant) {
        for family in tables.keys.sorted(by: { $0 == .v4 && $1 == .v6 }) {
            guard let table = tables[family], !lookups.values.contains(where: { $0.getPeers == nil && $0.lookup.family == family }) else {
                continue
            }
            if table.count < configuration.table.bucketSize {
                let bootstrap = bootstrapAddresses.filter { AddressFamily($0.ip) == family }
                _ = start(target: id, family: family, bootstrap: bootstrap, getPeers: nil, now: now)
                continue
            }
            // Every bucket once after joining (as Kademlia's join does), then those quiet for the interval.
            let interval = configuration.table.refreshInterval
            let done = refreshed[family] ?? [:]
            let due = table.buckets.indices.first { done[$0] == nil }
                ?? table.bucketsNeedingRefresh(now: now).first { done[$0].map { now - $0 >= interval } ?? true }
            guard let bucket = due else { continue }
            refreshed[family, default: [:]][bucket] = now
            let target = table.refreshTarget(forBucket: bucket, using: &random)
            _ = start(target: target, family: family, bootstrap: [], getPeers: nil, now: now)
        }
    }

    // MARK: BEP 42

    /// Counts an answer's view of our address; once voters from enough different networks agree on one our id is
    /// not secure for, takes a secure id for it. Only IPv4 votes (one id serves both families, and a dual-stack
    /// host would otherwise flip between its two addresses), one vote per voter's /24, at most one change an
    /// hour, and votes are capped so that answers naming many addresses cannot grow memory.
    private mutating func vote(for external: IPAddress, from voter: IPAddress, now: ContinuousClock.Instant) {
        guard case .v4 = external.unmapped, case .v4(let voterBits) = voter.unmapped, !external.isExemptFromSecureNodeID,
              lastIDChange.map({ now - $0 >= Self.idChangeInterval }) ?? true else { return }
        if externalVotes[external] == nil, externalVotes.count >= 16 { externalVotes.removeAll() }
        externalVotes[external, default: []].insert(voterBits >> 8)
        guard externalVotes[external, default: []].count >= Self.externalAddressVotes, !id.isSecure(for: external) else { return }
        externalVotes.removeAll()
        lastIDChange = now
        changeID(to: .secure(for: external, using: &random), now: now)
    }

    /// Takes a new id: each table is rebuilt around it from the nodes that have answered us.
    private mutating func changeID(to newID: NodeID, now: ContinuousClock.Instant) {
        id = newID
        for (family, old) in tables {
            var table = RoutingTable(ownID: newID, family: family, configuration: configuration.table)
            for entry in old.buckets.flatMap(\.entries) where entry.lastResponse != nil && entry.failures == 0 {
                _ = table.noteResponse(from: entry.node, now: entry.lastResponse ?? now)
            }
            tables[family] = table
        }
        refreshed = [:]
    }

    // MARK: Output

    /// Pings a node we heard of to add it to the table, within the budget of such pings, and not twice.
    private mutating func probe(_ address: PeerAddress, now: ContinuousClock.Instant) {
        guard pingsPending < Self.maxPendingPings, !pending.values.contains(where: { $0.address == address && $0.purpose == .probe }),
              send(.ping, to: address, purpose: .probe, now: now) else { return }
        pingsPending += 1
    }

    /// Sends a query; false when too many are pending. Half the pending table is kept for lookups, so traffic
    /// others cause (pings of nodes that query us) cannot crowd them out.
    @discardableResult
    private mutating func send(_ method: KRPCMessage.Method, to address: PeerAddress, purpose: Purpose, now: ContinuousClock.Instant) -> Bool {
        let limit = if case .lookup = purpose { configuration.maxPendingQueries } else { configuration.maxPendingQueries / 2 }
        guard pending.count < limit else { return false }
        var transaction = TransactionID(nextTransaction)
        while pending[transaction] != nil {
            nextTransaction &+= 1
            transaction = TransactionID(nextTransaction)
        }
        nextTransaction &+= 1
        let message = KRPCMessage(transactionID: transaction, body: .query(.init(sender: id, method: method)),
                                  clientVersion: configuration.clientVersion, isReadOnly: configuration.readOnly)
        pending[transaction] = Pending(address: address, sentAt: now, purpose: purpose)
        statistics.queriesSent += 1
        emit(message.encoded(), to: address)
        return true
    }

    private mutating func emit(_ bytes: [UInt8], to address: PeerAddress) {
        statistics.datagramsOut += 1
        statistics.bytesOut += bytes.count
        outbox.append(Datagram(bytes: bytes, address: address))
    }
}
