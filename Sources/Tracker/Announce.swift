import Metainfo

/// Why we announce (BEP 3 `event`, BEP 15's numbers).
public enum AnnounceEvent: Int32, Sendable, Hashable, CaseIterable {
    /// A periodic announce.
    case none = 0
    /// The download finished (sent once, and only if it started incomplete).
    case completed = 1
    /// The first announce of a run.
    case started = 2
    /// The torrent is being stopped.
    case stopped = 3

    /// The HTTP query value; nil for a periodic announce, which sends no `event`.
    public var httpName: String? {
        switch self {
        case .none: nil
        case .completed: "completed"
        case .started: "started"
        case .stopped: "stopped"
        }
    }

    /// The event an HTTP query names; an unknown or empty name is a periodic announce.
    public init(httpName: some StringProtocol) {
        self = Self.allCases.first { $0.httpName.map { $0 == httpName } ?? false } ?? .none
    }
}

/// What a client tells a tracker about itself and one torrent.
public struct AnnounceRequest: Sendable, Hashable {
    public var infoHash: SHA1Hash
    /// Our 20-byte peer id.
    public var peerID: [UInt8]
    /// The TCP port we accept peers on.
    public var port: UInt16
    public var uploaded: Int64
    public var downloaded: Int64
    /// Bytes still wanted; 0 means we seed.
    public var left: Int64
    public var event: AnnounceEvent
    /// How many peers we would like; nil lets the tracker choose.
    public var numWant: Int?
    /// A number that stays the same for the session, so a tracker knows us when our address changes.
    public var key: UInt32
    /// What the tracker last gave as `tracker id` (HTTP only), sent back to it.
    public var trackerID: [UInt8]?

    public init(infoHash: SHA1Hash, peerID: [UInt8], port: UInt16, uploaded: Int64 = 0, downloaded: Int64 = 0, left: Int64,
                event: AnnounceEvent = .none, numWant: Int? = nil, key: UInt32 = 0, trackerID: [UInt8]? = nil) {
        precondition(peerID.count == 20, "a peer id is 20 bytes")
        self.infoHash = infoHash
        self.peerID = peerID
        self.port = port
        self.uploaded = uploaded
        self.downloaded = downloaded
        self.left = left
        self.event = event
        self.numWant = numWant
        self.key = key
        self.trackerID = trackerID
    }
}

/// A tracker's answer to an announce.
public struct AnnounceResponse: Sendable, Hashable {
    /// Seconds until the tracker wants to hear from us again.
    public var interval: Int
    /// Seconds under which the tracker asks us never to announce again.
    public var minInterval: Int?
    /// Peers in the swarm, IPv4 and IPv6 together.
    public var peers: [PeerAddress]
    /// Peers with the whole torrent, if the tracker says.
    public var seeders: Int?
    /// Peers still downloading, if the tracker says.
    public var leechers: Int?
    /// A warning the tracker sent with a successful answer.
    public var warning: String?
    /// An id to send back in later announces (HTTP).
    public var trackerID: [UInt8]?

    public init(interval: Int, minInterval: Int? = nil, peers: [PeerAddress] = [], seeders: Int? = nil, leechers: Int? = nil,
                warning: String? = nil, trackerID: [UInt8]? = nil) {
        self.interval = interval
        self.minInterval = minInterval
        self.peers = peers
        self.seeders = seeders
        self.leechers = leechers
        self.warning = warning
        self.trackerID = trackerID
    }
}

/// A swarm's numbers as a scrape (BEP 48, BEP 15) reports them.
public struct ScrapeCounts: Sendable, Hashable {
    /// Peers with the whole torrent (`complete`).
    public var seeders: Int
    /// Peers still downloading (`incomplete`).
    public var leechers: Int
    /// Downloads the tracker has seen finish (`downloaded`).
    public var completed: Int

    public init(seeders: Int, leechers: Int, completed: Int) {
        self.seeders = seeders
        self.leechers = leechers
        self.completed = completed
    }
}

/// Why talking to a tracker failed. Every case says what went wrong in words a user can act on.
public enum TrackerError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The tracker answered with a `failure reason` (HTTP) or an error packet (UDP).
    case failure(String)
    /// The answer broke the protocol.
    case malformed(String)
    /// No answer in time.
    case timedOut
    /// The HTTP server answered with an error status.
    case httpStatus(Int)
    /// The network failed: name lookup, connection, TLS, redirects.
    case transport(String)
    /// The URL is not a tracker we can talk to.
    case unsupported(String)
    /// The task asking was cancelled.
    case cancelled

    public var description: String {
        switch self {
        case .failure(let reason): "tracker failure: \(reason)"
        case .malformed(let what): "malformed tracker reply: \(what)"
        case .timedOut: "timed out"
        case .httpStatus(let code): "HTTP status \(code)"
        case .transport(let what): what
        case .unsupported(let what): what
        case .cancelled: "cancelled"
        }
    }
}

/// The limits a client keeps on what a tracker sends back.
public enum TrackerLimits {
    /// The most peers taken from one reply; the rest are dropped.
    public static let maxPeersPerReply = 1000
    /// The largest HTTP reply body read (a compact reply of 1000 IPv4 and 1000 IPv6 peers is 24 KB).
    public static let maxHTTPBody = 1 << 20
    /// The longest failure reason or warning kept, in bytes.
    public static let maxMessageLength = 512
}
