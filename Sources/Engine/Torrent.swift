import Metainfo
import NIOCore
import PeerWire
import Storage
import Synchronization

/// One torrent in a ``Session``: downloads what is wanted, uploads what is verified, within the user's limits.
///
/// Each connection runs in a task of its own (``serve(_:name:)``). The shared state (piece picker, pieces
/// being assembled, the choker, peer bookkeeping) sits behind one lock that a connection takes once per batch
/// of messages, never across an `await`; hashing and disk writes happen outside it, in the connection's task,
/// off SwiftNIO's event loops. ``run()`` drives the clocks: the choker, snub checks, statistics, outgoing
/// connections and resume data.
public final class Torrent: Sendable {
    public let metainfo: Metainfo
    public let storage: PieceStorage
    /// What happens in this torrent, in order.
    public let events: AsyncStream<TorrentEvent>
    let emit: AsyncStream<TorrentEvent>.Continuation
    let options: TorrentOptions
    let context: SessionContext
    let checker: PieceChecker
    let limits: RateLimits
    /// This torrent's own rate limits (the session's apply too).
    let downloadLimit: RateLimiter
    let uploadLimit: RateLimiter
    let cache: ReadCache
    let finisher = PieceFinisher()
    /// Each v2 file's tree from its piece layer up, built on the first hash request for it.
    let hashLayers = Mutex<[SHA256Hash: [[SHA256Hash]]]>([:])
    let core: Mutex<TorrentCore>
    /// Each tracker's state, in tier order (written by the announcer, read for events and stats).
    let trackerStatus = Mutex<[TrackerStatus]>([])
    /// Our handshake for this torrent.
    let handshake: Handshake
    /// The origin of the choker's clock.
    let started = ContinuousClock.now

    init(metainfo: Metainfo, infoHash: SHA1Hash, storage: PieceStorage, verified: Bitfield, options: TorrentOptions,
         context: SessionContext) {
        self.metainfo = metainfo
        self.storage = storage
        self.options = options
        self.context = context
        checker = PieceChecker(torrent: metainfo, storage: storage)
        let settings = context.settings
        downloadLimit = RateLimiter(limit: settings.rates.downloadPerTorrent)
        uploadLimit = RateLimiter(limit: settings.rates.uploadPerTorrent)
        limits = RateLimits(download: [context.downloadLimit, downloadLimit], upload: [context.uploadLimit, uploadLimit])
        cache = ReadCache(capacity: 32 << 20)
        // BEP 5: the DHT bit says we take `port` messages and send ours; private torrents keep out of the DHT.
        let dht: ExtensionBits = settings.discovery.dht && !metainfo.info.isPrivate ? .dht : []
        handshake = Handshake(extensions: [.fast, .extensionProtocol, dht], infoHash: infoHash, peerID: context.peerID)
        core = Mutex(TorrentCore(layout: storage.layout, verified: verified, options: options, uploadSlots: settings.uploadSlots))
        (events, emit) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(4096))
    }

    /// The pieces verified so far.
    public var verified: Bitfield { core.withLock { $0.picker.verified } }

    /// Whether every wanted piece is verified.
    public var isComplete: Bool { core.withLock { $0.remaining == 0 } }

    /// The torrent's numbers now.
    public var stats: TorrentStats {
        var stats = core.withLock { $0.stats() }
        trackerStatus.withLock { list in
            stats.trackers = list.count
            stats.trackersWorking = list.count { $0.state == .working }
        }
        return stats
    }

    /// Each tracker's state now, in tier order.
    public var trackers: [TrackerStatus] { trackerStatus.withLock { $0 } }

    /// Adds peers to connect to (from the user, trackers, the DHT, PEX and LSD).
    public func addPeers(_ peers: [(host: String, port: Int)]) {
        core.withLock { $0.candidates.add(peers) }
    }

    /// Adds peers to connect to, by address.
    public func addPeers(_ addresses: [PeerAddress]) {
        core.withLock { $0.candidates.add(addresses) }
    }

    /// Changes priorities while running: per file, in torrent order.
    public func setFilePriorities(_ priorities: [PiecePriority]) {
        core.withLock { $0.setFilePriorities(priorities, layout: storage.layout) }
    }

    /// Stops every connection; ``run()`` then saves resume data and returns.
    public func stop() {
        let peers = core.withLock { core in
            core.stopped = true
            return Array(core.peers.values)
        }
        for peer in peers { peer.sender.close() }
    }
}

/// A connection as the rest of the torrent sees it: how to reach its task, and what the choker needs.
final class PeerHandle: Sendable {
    let id: Int
    let name: String
    let ip: IPAddress?
    let peerID: PeerID
    let sender: PeerSender
    let connectedAt: ContinuousClock.Instant
    let control: Mutex<PeerControl>

    init(id: Int, name: String, ip: IPAddress?, peerID: PeerID, sender: PeerSender) {
        self.id = id
        self.name = name
        self.ip = ip
        self.peerID = peerID
        self.sender = sender
        connectedAt = .now
        control = Mutex(PeerControl())
    }
}

/// Shared facts about one connection: written by its task, by the choker and by other connections (endgame
/// cancels), and read by the choker.
struct PeerControl {
    /// The choker's decision.
    var unchoke = false
    /// The peer wants our data.
    var interested = false
    var downloaded: Int64 = 0
    var uploaded: Int64 = 0
    var downloadRate = 0
    var uploadRate = 0
    /// Counters at the last rate measurement.
    var measuredDownloaded: Int64 = 0
    var measuredUploaded: Int64 = 0
    /// Blocks to cancel with this peer because another delivered them (endgame).
    var cancels: [BlockRequest] = []
    /// When the peer last delivered a block we asked for, and whether requests are outstanding.
    var lastBlock: ContinuousClock.Instant = .now
    var awaitingBlocks = false
    /// It let requests sit for too long; its requests went to others.
    var snubbed = false
    /// Where it accepts connections, when known: the address we connected to, or an incoming peer's address
    /// with the port of its extension handshake. Only such peers are passed on by peer exchange.
    var listenAddress: PeerAddress?
    /// What peer exchange says of it.
    var exchangeFlags: PeerExchangeFlags = []
}
