import Metainfo
import NIOCore
import PeerWire

/// Peer exchange (BEP 11): each connection tells its peer, at most once a minute, which peers the torrent
/// connected to and lost since it last said; peers it is told of become candidates.
extension Torrent {
    /// Whether this torrent exchanges peers now: never for a private torrent (BEP 27), else as the user says.
    var usesPeerExchange: Bool { !metainfo.info.isPrivate && context.settings.discovery.peerExchange }

    /// BEP 11: no more than one message a minute.
    static let peerExchangeInterval: Duration = .seconds(60)
    /// Messages from a peer closer together than this are ignored: the peer breaks BEP 11, and reading them
    /// would let it fill our candidates.
    static let peerExchangeMinimumGap: Duration = .seconds(20)

    /// The `ut_pex` message due to this connection's peer, if one is due and has news: peers now connected
    /// that it was not told of (reachable ones only: an outgoing connection's address, or an incoming peer's
    /// address with the port of its extension handshake), and peers it was told of that are gone.
    func peerExchangeMessage(for handle: PeerHandle, view: PeerView) -> PeerMessage? {
        let now = ContinuousClock.now
        guard view.peerExchangeID != 0, now >= view.nextPeerExchange, usesPeerExchange else { return nil }
        let current: [PeerAddress: PeerExchangeFlags] = core.withLock { core in
            var current: [PeerAddress: PeerExchangeFlags] = [:]
            // Not the peer itself, over another connection between us.
            for peer in core.peers.values where peer !== handle && peer.peerID != handle.peerID {
                let (address, flags) = peer.control.withLock { ($0.listenAddress, $0.exchangeFlags) }
                if let address { current[address] = flags }
            }
            return current
        }
        // After the first message BEP 11 allows 50 of each; the first may list every connection.
        let limit = view.told.isEmpty ? PeerExchangeMessage.maxEntriesRead : PeerExchangeMessage.maxEntries
        let added = current.filter { view.told.contains($0.key) == false }.prefix(limit).map { (address: $0.key, flags: $0.value) }
        let dropped = Array(view.told.filter { current[$0] == nil }.prefix(limit))
        guard !added.isEmpty || !dropped.isEmpty else {
            // Nothing to say: look again at the next wake rather than on every batch of messages.
            view.nextPeerExchange = now + .seconds(5)
            return nil
        }
        view.told.formUnion(added.map(\.address))
        view.told.subtract(dropped)
        view.nextPeerExchange = now + Self.peerExchangeInterval
        let message = PeerExchangeMessage(added: added, dropped: dropped)
        return .extended(id: view.peerExchangeID, payload: ByteBuffer(bytes: message.encoded()))
    }

    /// Takes in a peer's `ut_pex` message: its added peers become candidates (the user's block and allow lists
    /// apply when they are tried). Returns the peers to add; malformed or too frequent messages give none.
    func receivePeerExchange(_ payload: ByteBuffer, from name: String, view: PeerView) -> [PeerAddress] {
        let now = ContinuousClock.now
        guard usesPeerExchange else { return [] }
        if let last = view.lastPeerExchange, now - last < Self.peerExchangeMinimumGap { return [] }
        view.lastPeerExchange = now
        guard let message = try? PeerExchangeMessage(parsing: Array(payload.readableBytesView)) else { return [] }
        emit.yield(.peerExchange(from: name, added: message.added.count, dropped: message.dropped.count))
        // BEP 11: no single source should supply all the candidates; 50 a message, 20 s apart at most.
        return message.added.prefix(PeerExchangeMessage.maxEntries).map(\.address)
    }
}
