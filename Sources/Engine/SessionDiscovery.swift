import DHT
import LocalDiscovery
import Metainfo

/// The services that find peers without a tracker, run by the session for all its torrents.
struct Discovery {
    var local: (service: LocalDiscovery, task: Task<Void, Never>)?
    /// The DHT's scheduling task; the node itself is in `SessionContext.dhtNode`, where connections reach it.
    var dhtTask: Task<Void, Never>?
}

/// When each info-hash was last announced or looked up, to tell which are due again.
struct AnnounceSchedule {
    private var last: [SHA1Hash: ContinuousClock.Instant] = [:]

    /// The hashes among `current` not done within their `interval`; hashes no longer current are forgotten.
    mutating func due(among current: [SHA1Hash], interval: (SHA1Hash) -> Duration, now: ContinuousClock.Instant) -> [SHA1Hash] {
        let kept = Set(current)
        last = last.filter { kept.contains($0.key) }
        return current.filter { hash in last[hash].map { now - $0 >= interval(hash) } ?? true }
    }

    mutating func done(_ hash: SHA1Hash, now: ContinuousClock.Instant) { last[hash] = now }
}

extension Session {
    /// BEP 14: each torrent is announced every 5 minutes, and no announce goes out sooner than a minute after
    /// the last.
    static let localAnnounceInterval: Duration = .seconds(300)
    static let localAnnounceGap: Duration = .seconds(60)

    /// Starts local service discovery (BEP 14) if the settings allow it, once listening (the port is what is
    /// announced): torrents and magnet links being fetched are announced on the local network, and peers
    /// announcing them become candidates. Private torrents are never announced, and their announces ignored.
    /// ``close()`` stops it.
    public func startLocalDiscovery(_ configuration: LocalDiscovery.Configuration = LocalDiscovery.Configuration()) async throws {
        guard settings.discovery.localDiscovery, context.listenPort != nil else { return }
        let service = try await LocalDiscovery.start(configuration) { [weak self] announce, ip in
            self?.received(announce, from: ip)
        }
        let task = Task { [weak self] in
            var lastSent: ContinuousClock.Instant?
            var schedule = AnnounceSchedule()
            while !Task.isCancelled, let self {
                let now = ContinuousClock.now
                if lastSent.map({ now - $0 >= Self.localAnnounceGap }) ?? true, self.settings.discovery.localDiscovery,
                   let port = self.context.listenPort {
                    let due = schedule.due(among: self.discoverableHashes(), interval: { _ in Self.localAnnounceInterval }, now: now)
                        .prefix(LocalAnnounce.maxInfoHashes)
                    if !due.isEmpty {
                        service.announce(Array(due), port: UInt16(port))
                        lastSent = now
                        for hash in due { schedule.done(hash, now: now) }
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        let replaced = discovery.withLock { discovery in
            defer { discovery.local = (service, task) }
            return discovery.local
        }
        replaced?.task.cancel()
        replaced?.service.close()
    }

    /// Stops discovery services.
    public func close() {
        let (local, dhtTask) = discovery.withLock { discovery in
            defer { discovery = Discovery() }
            return (discovery.local, discovery.dhtTask)
        }
        local?.task.cancel()
        local?.service.close()
        dhtTask?.cancel()
        context.dhtNode.withLock { node in
            defer { node = nil }
            return node
        }?.close()
    }

    /// The wire info-hashes that discovery may look for and announce: public torrents and magnet links being fetched.
    func discoverableHashes() -> [SHA1Hash] {
        let torrents = torrents.withLock { $0.filter { !$0.value.metainfo.info.isPrivate }.map(\.key) }
        return torrents + fetches.withLock { Array($0.keys) }
    }

    private func received(_ announce: LocalAnnounce, from ip: IPAddress) {
        guard settings.discovery.localDiscovery else { return }
        for hash in announce.infoHashes { found([PeerAddress(ip: ip, port: announce.port)], for: hash, source: .localDiscovery) }
    }

    /// Peers a discovery service found for `hash` go to its public torrent, or to its metadata fetch.
    private func found(_ peers: [PeerAddress], for hash: SHA1Hash, source: PeerSource) {
        if let torrent = torrent(for: hash), !torrent.metainfo.info.isPrivate {
            torrent.addPeers(peers)
            torrent.emit.yield(.peersFound(count: peers.count, source: source))
        } else if let fetch = fetches.withLock({ $0[hash] }) {
            fetch.addPeers(peers)
            fetch.emit.yield(.peersFound(count: peers.count, source: source))
        }
    }

    // MARK: DHT

    /// How often a torrent is looked up (and announced) in the DHT: libtorrent's `dht_announce_interval`.
    static let dhtAnnounceInterval: Duration = .seconds(15 * 60)
    /// How often a magnet link whose metadata has not come is looked up.
    static let dhtFetchInterval: Duration = .seconds(60)
    /// Lookups (one per address family and torrent) running at once at most.
    static let dhtConcurrentLookups = 16

    /// Starts the session's DHT node (BEP 5) if the settings allow it, on the UDP port of the same number as the
    /// listening port (or `port`), joining through `bootstrap` and the nodes of `state` (from ``DHTService/state``).
    /// Public torrents and magnet links being fetched are looked up, and announced on the listening port,
    /// every 15 minutes (magnet links every minute until their metadata comes); the peers found become
    /// candidates. ``close()`` stops it.
    public func startDHT(bootstrap: [PeerAddress], state: [UInt8]? = nil, configuration: DHTNode.Configuration = DHTNode.Configuration(),
                         host: String? = nil, port: Int? = nil) async throws {
        guard settings.discovery.dht else { return }
        let service = try await DHTService.start(host: host, port: port ?? context.listenPort ?? 0, state: state,
                                                 configuration: configuration) { [weak self] event in
            guard case .peers(let hash, let peers) = event, self?.settings.discovery.dht == true else { return }
            self?.found(peers, for: hash, source: .dht)
        }
        service.bootstrap(from: bootstrap)
        let task = Task { [weak self] in
            var schedule = AnnounceSchedule()
            while !Task.isCancelled, let self {
                if self.settings.discovery.dht {
                    let now = ContinuousClock.now
                    let fetching = self.fetches.withLock { Set($0.keys) }
                    let due = schedule.due(among: self.discoverableHashes(), interval: { fetching.contains($0) ? Self.dhtFetchInterval : Self.dhtAnnounceInterval },
                                           now: now)
                    // A few lookups at a time: a session of many torrents must not start them all in one second.
                    for hash in due where service.activeLookups < Self.dhtConcurrentLookups {
                        let port = self.context.listenPort.flatMap { UInt16(exactly: $0) }
                        if service.findPeers(hash, announcePort: port) { schedule.done(hash, now: now) }
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        let replacedTask = discovery.withLock { discovery in
            defer { discovery.dhtTask = task }
            return discovery.dhtTask
        }
        let replaced = context.dhtNode.withLock { node in
            defer { node = service }
            return node
        }
        replacedTask?.cancel()
        replaced?.close()
    }

    /// The DHT node, once started: its statistics, table and state to save.
    public var dht: DHTService? { context.dhtNode.withLock { $0 } }
}
