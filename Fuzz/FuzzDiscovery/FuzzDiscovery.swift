import DHT
import LocalDiscovery
import Metainfo
import PeerWire

/// A DHT node that every input is fed to, so the node's state (pending queries, tables, stores) meets hostile
/// datagrams in sequence, not only the codec.
nonisolated(unsafe) private var node = DHTNode(id: NodeID(SHA1Hash.of([1])), families: [.v4, .v6], now: .now, seed: 1)

/// libFuzzer entry: the first byte picks what reads the rest, as a datagram or extension message from a peer would
/// reach it. Every reader must return or throw its typed error, within its limits, for any bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDiscovery(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 5 {
    case 0:
        if let message = try? KRPCMessage(decoding: bytes), case .response(let response) = message.body {
            precondition(response.values.count <= KRPCMessage.maxValues, "too many values kept")
        }
    case 1:
        // From a public and a local source, then let time pass: answers must stay within the reply cap.
        let now = ContinuousClock.now
        for source in [PeerAddress(ip: .v4(0x0808_0808), port: 6881), PeerAddress(ip: .v4(0x7f00_0001), port: 6881)] {
            node.receive(bytes, from: source, now: now)
        }
        node.tick(now: now + .seconds(20))
        for datagram in node.takeOutput().datagrams {
            precondition(datagram.bytes.count <= node.configuration.maxReplySize || (try? KRPCMessage(decoding: datagram.bytes))?.body
                .isQuery == true, "reply over the size cap")
        }
    case 2:
        if let message = try? PeerExchangeMessage(parsing: bytes) {
            precondition(message.added.count <= PeerExchangeMessage.maxEntriesRead && message.dropped.count <= PeerExchangeMessage.maxEntriesRead,
                         "too many peers read")
        }
    case 3:
        if let announce = try? LocalAnnounce(parsing: bytes) {
            precondition(announce.infoHashes.count <= LocalAnnounce.maxInfoHashes, "too many info-hashes read")
        }
    default:
        if case .data(_, let total, let payload)?? = try? MetadataMessage(parsing: bytes) {
            precondition(total <= MetadataMessage.maxMetadataSize && payload.count <= MetadataMessage.pieceSize, "metadata bounds broken")
        }
    }
    return 0
}

private extension KRPCMessage.Body {
    var isQuery: Bool {
        if case .query = self { true } else { false }
    }
}
