import DHT
import Metainfo
import NIOCore
import NIOPosix
import PeerWire
import Storage
import Synchronization
import Tracker

/// What every torrent of a session shares: the settings, the peer id, the session-wide rate limits and
/// the count of open connections.
final class SessionContext: Sendable {
    let peerID: PeerID
    let downloadLimit: RateLimiter
    let uploadLimit: RateLimiter
    /// One UDP tracker client for every torrent: one socket per address family, connection ids shared.
    let udpTrackers = UDPTrackerClient()
    /// The session's DHT node, once started: peers' `port` messages name nodes for it.
    let dhtNode = Mutex<DHTService?>(nil)
    /// Sent with every announce, so trackers know this session when its address changes.
    let trackerKey = UInt32.random(in: .min ... .max)
    private let state: Mutex<(settings: SessionSettings, listenPort: Int?)>
    private let connections = SlotCount()

    init(settings: SessionSettings, peerID: PeerID) {
        self.peerID = peerID
        downloadLimit = RateLimiter(limit: settings.rates.download)
        uploadLimit = RateLimiter(limit: settings.rates.upload)
        state = Mutex((settings, nil))
    }

    var settings: SessionSettings {
        get { state.withLock { $0.settings } }
        set {
            state.withLock { $0.settings = newValue }
            downloadLimit.limit = newValue.rates.download
            uploadLimit.limit = newValue.rates.upload
        }
    }

    /// The port we accept peers on, once listening.
    var listenPort: Int? {
        get { state.withLock { $0.listenPort } }
        set { state.withLock { $0.listenPort = newValue } }
    }

    /// Open connections across the session.
    var connectionCount: Int { connections.taken }

    /// Takes a place for a connection if the session-wide limit allows one.
    func claimConnection() -> Bool { connections.claim(below: settings.connections.maxTotal) }

    func releaseConnection() { connections.release() }
}

/// A Shoal node: one listening port, many torrents, one set of limits the user may change while it runs.
public final class Session: Sendable {
    let context: SessionContext
    let torrents = Mutex<[SHA1Hash: Torrent]>([:])
    let fetches = Mutex<[SHA1Hash: MetadataFetch]>([:])
    /// The discovery services started.
    let discovery = Mutex<Discovery>(Discovery())

    public init(settings: SessionSettings, peerID: PeerID = .shoal()) {
        context = SessionContext(settings: settings, peerID: peerID)
    }

    /// The settings in force.
    public var settings: SessionSettings { context.settings }

    /// Replaces the settings while running: limits, slots and peer lists apply from the next decision.
    public func apply(_ settings: SessionSettings) throws(SessionSettings.Invalid) {
        let valid = try settings.validated()
        context.settings = valid
        for torrent in torrents.withLock({ Array($0.values) }) {
            torrent.downloadLimit.limit = valid.rates.downloadPerTorrent
            torrent.uploadLimit.limit = valid.rates.uploadPerTorrent
            torrent.core.withLock { $0.choker.uploadSlots = valid.uploadSlots }
            torrent.rechoke()
        }
    }

    /// Why a torrent cannot be added.
    public struct AddError: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
    }

    /// Adds a torrent whose data is in `storage`; `verified` are the pieces known good (from a check or
    /// resume data). Call ``Torrent/run()`` to start it.
    public func add(_ metainfo: Metainfo, storage: PieceStorage, verified: Bitfield,
                    options: TorrentOptions = TorrentOptions()) throws(AddError) -> Torrent {
        guard let infoHash = metainfo.info.infoHashes.wire else { throw AddError(description: "the torrent has no info-hash") }
        let torrent = Torrent(metainfo: metainfo, infoHash: infoHash, storage: storage, verified: verified, options: options,
                              context: context)
        let added = torrents.withLock { torrents in
            guard torrents[infoHash] == nil else { return false }
            torrents[infoHash] = torrent
            return true
        }
        guard added else { throw AddError(description: "the torrent \(infoHash) is already in the session") }
        return torrent
    }

    /// Starts fetching a magnet link's metadata; call ``MetadataFetch/run()`` for the torrent, then ``add(_:storage:verified:options:)``
    /// it. Peers that connect in for the link's info-hash meanwhile are asked too.
    public func fetchMetadata(_ magnet: MagnetLink, options: MetadataFetch.Options = MetadataFetch.Options()) throws(AddError) -> MetadataFetch {
        guard let infoHash = magnet.infoHashes.wire else { throw AddError(description: "the magnet link has no info-hash") }
        let fetch = MetadataFetch(magnet: magnet, infoHash: infoHash, options: options, context: context) { [weak self] in
            self?.fetches.withLock { _ = $0.removeValue(forKey: infoHash) }
        }
        let added = fetches.withLock { fetches in
            guard fetches[infoHash] == nil, torrent(for: infoHash) == nil else { return false }
            fetches[infoHash] = fetch
            return true
        }
        guard added else { throw AddError(description: "the torrent \(infoHash) is already in the session") }
        return fetch
    }

    /// The torrent with this (wire) info-hash, if the session has it.
    public func torrent(for infoHash: SHA1Hash) -> Torrent? { torrents.withLock { $0[infoHash] } }

    /// Takes a torrent out of the session (after stopping it).
    public func remove(_ torrent: Torrent) {
        torrent.stop()
        torrents.withLock { $0[torrent.handshake.infoHash] = nil }
    }

    /// Binds the listening port (0 picks a free one) and returns the listener; serve it with
    /// ``accept(on:)``. Without a `host`, listens on every IPv6 and IPv4 address (IPv4 alone where the
    /// machine has no IPv6).
    public func listen(host: String? = nil, port: Int) async throws -> PeerListener {
        let listener: PeerListener
        if let host {
            listener = try await PeerListener.bind(host: host, port: port)
        } else {
            do { listener = try await PeerListener.bind(host: "::", port: port) } catch {
                listener = try await PeerListener.bind(host: "0.0.0.0", port: port)
            }
        }
        context.listenPort = listener.port
        return listener
    }

    /// Accepts peers until cancelled and hands each to the torrent it asks for. Addresses the user blocks
    /// (or does not allow) are closed before a byte is read.
    public func accept(on listener: PeerListener) async {
        await listener.serve(
            maxConnections: settings.connections.maxTotal,
            answer: { handshake in
                self.torrent(for: handshake.infoHash)?.handshake ?? self.fetches.withLock { $0[handshake.infoHash]?.handshake }
            },
            permits: { [context] address in
                let settings = context.settings
                guard settings.connections.acceptIncoming else { return false }
                return address.map(settings.peers.permits) ?? false
            },
            handler: { link, name in
                if let torrent = self.torrent(for: link.remote.infoHash) {
                    await torrent.serve(link, name: name)
                } else if let fetch = self.fetches.withLock({ $0[link.remote.infoHash] }) {
                    await fetch.serve(link, name: name)
                }
            })
    }
}
