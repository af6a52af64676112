import Metainfo

/// Everything a user can set about a session, in one value that can be replaced while the session runs
/// (libtorrent's settings pack, as typed Swift). Every field states its default.
public struct SessionSettings: Sendable, Hashable {
    /// How many connections to seek and allow.
    public struct Connections: Sendable, Hashable {
        /// Connections across all torrents. Default 200.
        public var maxTotal = 200
        /// Connections per torrent. Default 50.
        public var maxPerTorrent = 50
        /// Outgoing connection attempts in progress at once. Default 16.
        public var maxHalfOpen = 16
        /// Accept incoming connections at all. Default true.
        public var acceptIncoming = true
        public init() {}
    }

    /// Rates in bytes per second; nil means unlimited.
    public struct Rates: Sendable, Hashable {
        /// Session-wide download limit. Default unlimited.
        public var download: Int?
        /// Session-wide upload limit. Default unlimited.
        public var upload: Int?
        /// Per-torrent download limit. Default unlimited.
        public var downloadPerTorrent: Int?
        /// Per-torrent upload limit. Default unlimited.
        public var uploadPerTorrent: Int?
        public init() {}
    }

    /// Whom to talk to.
    public struct Peers: Sendable, Hashable {
        /// Addresses never connected to or accepted. Default empty.
        public var blocked = IPFilter()
        /// If not empty, the only addresses connected to or accepted. Default empty (everyone).
        public var allowedOnly = IPFilter()
        public init() {}

        /// Whether a peer at `address` may be connected to or accepted.
        public func permits(_ address: IPAddress) -> Bool {
            !blocked.contains(address) && (allowedOnly.isEmpty || allowedOnly.contains(address))
        }
    }

    /// How to use trackers.
    public struct Trackers: Sendable, Hashable {
        /// Announce to the torrents' trackers at all. Default true.
        public var enabled = true
        /// Peers asked for in each announce. Default 200.
        public var numWant = 200
        /// How long an HTTP announce may take, and the first wait for a UDP answer (doubled for each of 4 sends).
        /// Default 15 seconds.
        public var timeout: Duration = .seconds(15)
        /// Never announce more often than this, whatever a tracker asks. Default 30 seconds.
        public var minimumInterval: Duration = .seconds(30)
        public init() {}
    }

    /// Which ways of finding peers without a tracker the session uses. Private torrents (BEP 27) use none of
    /// them, whatever these say.
    public struct Discovery: Sendable, Hashable {
        /// Peer exchange (BEP 11) with connected peers. Default true.
        public var peerExchange = true
        /// The DHT (BEP 5). Default true.
        public var dht = true
        /// Local service discovery (BEP 14). Default true.
        public var localDiscovery = true
        public init() {}
    }

    public var connections = Connections()
    public var discovery = Discovery()
    public var rates = Rates()
    public var peers = Peers()
    public var trackers = Trackers()
    /// Peers unchoked at once per torrent. Default 8.
    public var uploadSlots = 8
    /// Keep uploading once a torrent is complete. Default true.
    public var seeding = true
    /// The port to listen on; 0 picks a free one. Default 6881.
    public var listenPort = 6881

    public init() {}

    /// Why a settings value cannot be used.
    public struct Invalid: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
    }

    /// Checks that the numbers make sense together.
    public func validated() throws(Invalid) -> SessionSettings {
        func positive(_ value: Int?, _ name: String) throws(Invalid) {
            if let value, value <= 0 { throw Invalid(description: "\(name) must be positive, not \(value)") }
        }
        try positive(connections.maxTotal, "the connection limit")
        try positive(connections.maxPerTorrent, "the per-torrent connection limit")
        try positive(connections.maxHalfOpen, "the half-open connection limit")
        try positive(rates.download, "the download rate")
        try positive(rates.upload, "the upload rate")
        try positive(rates.downloadPerTorrent, "the per-torrent download rate")
        try positive(rates.uploadPerTorrent, "the per-torrent upload rate")
        guard trackers.numWant >= 0 else { throw Invalid(description: "the number of peers to ask trackers for cannot be negative") }
        guard trackers.timeout > .zero else { throw Invalid(description: "the tracker timeout must be positive") }
        guard uploadSlots >= 0 else { throw Invalid(description: "upload slots cannot be negative") }
        guard (0...65535).contains(listenPort) else { throw Invalid(description: "port \(listenPort) is not 0 to 65535") }
        return self
    }
}
