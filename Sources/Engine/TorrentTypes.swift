import Metainfo
import PeerWire

/// What happens in a torrent, for whoever shows it (the CLI, a daemon); the library never prints.
public enum TorrentEvent: Sendable, Hashable {
    case peerConnected(String, client: String?)
    case peerDisconnected(String, reason: String)
    /// A peer sent data that failed hash checks too often; its address is refused from now on.
    case peerBanned(String, reason: String)
    case pieceVerified(PieceIndex, have: Int, of: Int)
    /// A piece failed its hash check; its blocks are fetched again. `senders` sent its blocks.
    case pieceFailed(PieceIndex, senders: [String])
    /// Every wanted piece is verified.
    case finished
    /// Sent once a second while the torrent runs.
    case stats(TorrentStats)
    /// A tracker's state changed: an announce started, was answered or failed.
    case tracker(TrackerStatus)
    /// Peers to try came from a source other than trackers and peer exchange (which have events of their own).
    case peersFound(count: Int, source: PeerSource)
    /// A peer told us of peers it connected to (`added`) and lost (`dropped`) (BEP 11).
    case peerExchange(from: String, added: Int, dropped: Int)
    /// A magnet link's metadata arrived whole from this peer and matches the info-hash (BEP 9).
    case metadataReceived(size: Int, from: String)
    /// Something went wrong that the user should know of (a disk error, unusable resume data).
    case error(String)
}

/// Where peers to try come from.
public enum PeerSource: String, Sendable, Hashable {
    case localDiscovery = "local discovery"
    case dht = "DHT"
}

/// A torrent's numbers at one moment.
public struct TorrentStats: Sendable, Hashable {
    /// Payload bytes received and sent since the torrent started.
    public var downloaded: Int64 = 0
    public var uploaded: Int64 = 0
    /// Bytes per second over the last few seconds.
    public var downloadRate = 0
    public var uploadRate = 0
    /// Connected peers.
    public var peers = 0
    /// Verified pieces, and pieces in all.
    public var have = 0
    public var pieces = 0
    /// Bytes of wanted pieces not yet verified.
    public var bytesLeft: Int64 = 0
    /// Bytes of wanted pieces in all.
    public var bytesWanted: Int64 = 0
    /// BEP 52 hash requests answered with hashes, and refused.
    public var hashRequestsAnswered = 0
    public var hashRequestsRefused = 0
    /// Trackers of the torrent, and those whose latest announce was answered.
    public var trackers = 0
    public var trackersWorking = 0

    public init() {}
}

/// How one torrent is to be handled.
public struct TorrentOptions: Sendable {
    /// Per file, in torrent order; nil downloads everything. Files at ``PiecePriority/skip`` are not
    /// downloaded beyond the pieces they share with wanted files.
    public var filePriorities: [PiecePriority]?
    /// Fetch pieces in order (for playing while downloading) instead of rarest first.
    public var sequential = false
    /// Where resume data is kept; nil keeps none.
    public var resumeFile: String?
    /// Stop once every wanted piece is verified instead of seeding.
    public var stopWhenComplete = false
    /// Stop when no peer is connected and every known peer has been tried (for a download with a fixed
    /// peer list).
    public var stopWhenPeersRunOut = false
    /// Trackers to announce to besides the torrent's own, each a tier of its own.
    public var extraTrackers: [String] = []

    public init() {}
}
