import DHT
import LocalDiscovery
import Metainfo

/// The services that find peers without a tracker, run by the session for all its torrents.
struct Discovery {
    var local: (service: LocalDiscovery, task: Task<Void, Never>)?
    var dht: (service: DHTService, task: Task<Void, Never>)?
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
            var announced: [SHA1Hash: ContinuousClock.Instant] = [:]
            while !Task.isCancelled, let self {
                if lastSent.map({ .now - $0 >= Self.localAnnounceGap }) ?? true, self.settings.discovery.localDiscovery,
                   let port = self.context.listenPort {
                    let current = Set(self.discoverableHashes())
                    announced = announced.filter { current.contains($0.key) }
                    let due = current.filter { announced[$0].map { .now - $0 >= Self.localAnnounceInterval } ?? true }
                        .prefix(LocalAnnounce.maxInfoHashes)
                    if !due.isEmpty {
                        service.announce(Array(due), port: UInt16(port))
                        lastSent = .now
                        for hash in due { announced[hash] = .now }
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
        let (local, dht) = discovery.withLock { discovery in
            defer { discovery = Discovery() }
            return (discovery.local, discovery.dht)
        }
        local?.task.cancel()
        local?.service.close()
        context.dhtNode.withLock { $0 = nil }
        dht?.task.cancel()
        dht?.service.close()
    }

    /// Counters of local discovery, once started.
    public var localDiscoveryStatistics: LocalDiscovery.Statistics? { discovery.withLock { $0.local?.service.statistics } }

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
        let named = peers.map { (host: $0.ip.description, port: Int($0.port)) }
        if let torrent = torrent(for: hash), !torrent.metainfo.info.isPrivate {
            torrent.addPeers(named)
            torrent.emit.yield(.peersFound(count: peers.count, source: source))
        } else if let fetch = fetches.withLock({ $0[hash] }) {
            fetch.addPeers(named)
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
    /// listening port (or `port`), joining through `bootstrap` and the nodes of `state` (from ``dhtState``).
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
            var looked: [SHA1Hash: ContinuousClock.Instant] = [:]
            while !Task.isCancelled, let self {
                if self.settings.discovery.dht {
                    let current = self.discoverableHashes()
                    let fetching = self.fetches.withLock { Set($0.keys) }
                    looked = looked.filter { current.contains($0.key) }
                    // A few lookups at a time: a session of many torrents must not start them all in one second.
                    for hash in current where service.activeLookups < Self.dhtConcurrentLookups {
                        let interval = fetching.contains(hash) ? Self.dhtFetchInterval : Self.dhtAnnounceInterval
                        guard looked[hash].map({ .now - $0 >= interval }) ?? true else { continue }
                        let port = self.context.listenPort.flatMap { UInt16(exactly: $0) }
                        if service.findPeers(hash, announcePort: port) { looked[hash] = .now }
                    }
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        let replaced = discovery.withLock { discovery in
            defer { discovery.dht = (service, task) }
            return discovery.dht
        }
        context.dhtNode.withLock { $0 = service }
        replaced?.task.cancel()
        replaced?.service.close()
    }

    /// The DHT node, once started: its statistics, table and state to save.
    public var dht: DHTService? { discovery.withLock { $0.dht?.service } }
}
