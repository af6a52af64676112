import Metainfo
import NIOCore
import NIOPosix
import NIOSupport
import Synchronization
import Tracker

/// A BitTorrent tracker (`shoal tracker`): HTTP and UDP announce and scrape over IPv4 and IPv6, swarms kept in
/// memory, silent peers forgotten, an optional list of the only info-hashes served, and statistics.
///
/// Both protocols share one ``SwarmRegistry`` behind a lock taken once per request. Peers are keyed by the
/// address a request came from and the port it announced: a request cannot add or remove anyone else.
public final class TrackerServer: Sendable {
    public struct Configuration: Sendable {
        /// Seconds between announces that clients are asked for. Default 1800.
        public var interval = 1800
        /// Seconds under which clients are asked never to announce. Default 60.
        public var minInterval = 60
        /// Peers not heard from for this many seconds are forgotten. Default 1.5 intervals.
        public var peerTimeout: Int?
        /// Peers sent when a client does not say how many it wants. Default 50.
        public var defaultNumWant = 50
        /// The most peers sent in one reply. Default 200.
        public var maxNumWant = 200
        /// The most peers one swarm holds; later ones get answers but are not recorded. Default 100,000.
        public var maxPeersPerSwarm = 100_000
        /// The most swarms the tracker keeps; announces for new ones beyond it are refused. Default 1,000,000.
        public var maxSwarms = 1_000_000
        /// HTTP connections open at once; more are closed as they come. Default 10,000.
        public var maxHTTPConnections = 10_000
        /// An HTTP connection that sends nothing for this long is closed. Default 30 seconds.
        public var httpIdleTimeout: Duration = .seconds(30)
        /// If set, the only info-hashes served; others get a failure reason or an error packet.
        public var allowList: Set<SHA1Hash>?
        public init() {}

        var effectivePeerTimeout: Int { peerTimeout ?? interval + interval / 2 }
    }

    let configuration: Configuration
    let registry: Mutex<SwarmRegistry>
    let counters = TrackerCounters()
    /// Where seconds are counted from: peers are stamped with the minute since the tracker started.
    private let origin = NIODeadline.now()
    private let group: any EventLoopGroup
    private let channels = Mutex<[any Channel]>([])
    private let connectionSecret = (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))

    public init(configuration: Configuration = Configuration(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
        registry = Mutex(SwarmRegistry(maxSwarms: configuration.maxSwarms, maxPeersPerSwarm: configuration.maxPeersPerSwarm))
    }

    /// Seconds since the tracker started.
    var now: UInt32 { UInt32(truncatingIfNeeded: (NIODeadline.now() - origin).nanoseconds / 1_000_000_000) }

    /// Starts answering UDP announces and scrapes on `host` (nil: every IPv6 and IPv4 address) and `port` (0 picks
    /// one); returns the port.
    public func listenUDP(host: String? = nil, port: Int) async throws -> Int {
        let bootstrap = DatagramBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // recvmmsg: up to 32 datagrams a system call, each given 2 KiB of the buffer (a full scrape is 1496 bytes).
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2048))
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(UDPTrackerHandler(server: self))
                }
            }
        let channel = try await bindEitherFamily(host: host) { try await bootstrap.bind(host: $0, port: port).outcome() }
        startExpiry(on: channel.eventLoop)
        return channel.localAddress?.port ?? port
    }

    /// Starts answering HTTP announces, scrapes and the statistics page; returns the port.
    public func listenHTTP(host: String? = nil, port: Int) async throws -> Int {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelInitializer { [self] channel in
                guard httpConnections.wrappingAdd(1, ordering: .relaxed).newValue <= configuration.maxHTTPConnections else {
                    httpConnections.wrappingSubtract(1, ordering: .relaxed)
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in self.httpConnections.wrappingSubtract(1, ordering: .relaxed) }
                return channel.eventLoop.makeCompletedFuture {
                    // Silent connections would otherwise hold descriptors for ever.
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: TimeAmount(configuration.httpIdleTimeout)))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(HTTPTrackerHandler(server: self))
                }
            }
        let channel = try await bindEitherFamily(host: host) { try await bootstrap.bind(host: $0, port: port).outcome() }
        startExpiry(on: channel.eventLoop)
        return channel.localAddress?.port ?? port
    }

    /// Stops listening (connections already accepted end when idle) and stops the expiry clock.
    public func close() {
        let open = channels.withLock { channels in
            defer { channels = [] }
            return channels
        }
        for channel in open { channel.close(promise: nil) }
        expiry.withLock { task in
            task?.cancel()
            task = nil
        }
    }

    private func bindEitherFamily(host: String?, _ bind: (String) async throws -> any Channel) async throws -> any Channel {
        let channel: any Channel
        if let host {
            channel = try await bind(host)
        } else {
            do { channel = try await bind("::") } catch { channel = try await bind("0.0.0.0") }
        }
        channels.withLock { $0.append(channel) }
        return channel
    }

    private let expiry = Mutex<RepeatedTask?>(nil)
    private let httpConnections = Atomic<Int>(0)

    /// Once a minute, forgets peers that stopped announcing.
    private func startExpiry(on loop: any EventLoop) {
        let timeout = UInt32(clamping: configuration.effectivePeerTimeout)
        expiry.withLock { task in
            guard task == nil else { return }
            task = loop.scheduleRepeatedTask(initialDelay: .seconds(60), delay: .seconds(60)) { [weak self] _ in
                guard let self else { return }
                let now = self.now
                self.registry.withLock { $0.expire(now: now, timeout: timeout) }
            }
        }
    }

    // MARK: Requests, shared by both protocols

    /// Whether announces and scrapes for `infoHash` are served.
    func serves(_ infoHash: SHA1Hash) -> Bool { configuration.allowList?.contains(infoHash) ?? true }

    /// Scrape counts for each of `hashes`; nil for one not served.
    public func counts(for hashes: [SHA1Hash]) -> [ScrapeCounts?] {
        let served = hashes.map(serves)
        return registry.withLock { registry in zip(hashes, served).map { $1 ? registry.counts($0) : nil } }
    }

    /// The peers to send: what the client asked for within the tracker's bound, the default when it did not say.
    func peersToSend(numWant: Int?) -> Int {
        guard let numWant, numWant >= 0 else { return configuration.defaultNumWant }
        return min(numWant, configuration.maxNumWant)
    }

    /// A UDP connection id for `address`: a keyed hash of the address and the current minute, so the tracker
    /// keeps no state per client and an id proves the client receives at that address.
    func connectionID(for address: SocketAddress, minute: UInt32? = nil) -> UInt64 {
        var hasher = Hasher()
        hasher.combine(connectionSecret.0)
        hasher.combine(connectionSecret.1)
        hasher.combine(minute ?? now / 60)
        switch address {
        case .v4(let v4): hasher.combine(v4.address.sin_addr.s_addr); hasher.combine(v4.address.sin_port)
        case .v6(let v6):
            withUnsafeBytes(of: v6.address.sin6_addr) { hasher.combine(bytes: $0) }
            hasher.combine(v6.address.sin6_port)
        case .unixDomainSocket: break
        }
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }

    /// Whether `id` was handed to `address` this minute or the one before (BEP 15: ids live two minutes).
    func acceptsConnectionID(_ id: UInt64, from address: SocketAddress) -> Bool {
        let minute = now / 60
        return id == connectionID(for: address, minute: minute) || (minute > 0 && id == connectionID(for: address, minute: minute - 1))
    }

    /// The numbers the statistics page shows.
    public var statistics: TrackerStatistics {
        let (swarms, totals) = registry.withLock { ($0.swarms.count, $0.totals) }
        return TrackerStatistics(swarms: swarms, seeders: totals.seeders, leechers: totals.leechers, counters: counters,
                                 uptime: Int(now))
    }
}

/// Requests counted since the tracker started.
final class TrackerCounters: Sendable {
    let udpConnects = Atomic<Int>(0)
    let udpAnnounces = Atomic<Int>(0)
    let udpScrapes = Atomic<Int>(0)
    let httpAnnounces = Atomic<Int>(0)
    let httpScrapes = Atomic<Int>(0)
    /// Requests answered with a failure: not allowed, bad connection id, malformed.
    let refused = Atomic<Int>(0)
    /// Datagrams dropped unanswered because they were not requests.
    let dropped = Atomic<Int>(0)
}

/// A tracker's numbers at one moment.
public struct TrackerStatistics: Sendable, Hashable {
    public var swarms: Int
    public var seeders: Int
    public var leechers: Int
    public var udpConnects: Int
    public var udpAnnounces: Int
    public var udpScrapes: Int
    public var httpAnnounces: Int
    public var httpScrapes: Int
    public var refused: Int
    public var dropped: Int
    /// Seconds since the tracker started.
    public var uptime: Int

    init(swarms: Int, seeders: Int, leechers: Int, counters: TrackerCounters, uptime: Int) {
        self.swarms = swarms
        self.seeders = seeders
        self.leechers = leechers
        udpConnects = counters.udpConnects.load(ordering: .relaxed)
        udpAnnounces = counters.udpAnnounces.load(ordering: .relaxed)
        udpScrapes = counters.udpScrapes.load(ordering: .relaxed)
        httpAnnounces = counters.httpAnnounces.load(ordering: .relaxed)
        httpScrapes = counters.httpScrapes.load(ordering: .relaxed)
        refused = counters.refused.load(ordering: .relaxed)
        dropped = counters.dropped.load(ordering: .relaxed)
        self.uptime = uptime
    }
}
