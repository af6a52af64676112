import Bencode
import Metainfo
import NIOCore
import NIOHTTP1
import NIOSupport
import Tracker

/// Answers HTTP GETs: `/announce` and `/scrape` (BEP 3, 23, 7, 48) and the statistics at `/stats` (HTML) and
/// `/stats.json`. A malformed announce gets a bencoded `failure reason`, never a dropped connection.
final class HTTPTrackerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The longest request target read; an announce needs about 300 bytes.
    static let maxTargetLength = 4096
    /// The most info-hashes one scrape may ask about.
    static let maxScrapeHashes = 100

    private let server: TrackerServer
    private var head: HTTPRequestHead?

    init(server: TrackerServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let (status, type, body) = answer(head, from: context.channel.remoteAddress)
            var headers = HTTPHeaders([("Content-Type", type), ("Content-Length", String(body.readableBytes))])
            if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            let keepAlive = head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { [channel = context.channel] _ in
                if !keepAlive { channel.close(promise: nil) }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func answer(_ head: HTTPRequestHead, from remote: SocketAddress?) -> (HTTPResponseStatus, String, ByteBuffer) {
        let bencoded = "text/plain"
        guard head.method == .GET, head.uri.utf8.count <= Self.maxTargetLength else {
            return (.ok, bencoded, refuse("a tracker takes GET requests of at most \(Self.maxTargetLength) bytes"))
        }
        let target = head.uri.utf8.split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(decoding: target[0], as: UTF8.self)
        let query = target.count > 1 ? Query(target[1]) : Query([UInt8]()[...])
        switch path {
        case "/announce": return (.ok, bencoded, announce(query, from: remote))
        case "/scrape": return (.ok, bencoded, scrape(query))
        case "/", "/stats": return (.ok, "text/html; charset=utf-8", ByteBuffer(string: StatisticsPage.html(server.statistics)))
        case "/stats.json": return (.ok, "application/json", ByteBuffer(string: StatisticsPage.json(server.statistics)))
        default: return (.notFound, "text/plain", ByteBuffer(string: "not found\n"))
        }
    }

    private func announce(_ query: Query, from remote: SocketAddress?) -> ByteBuffer {
        guard let infoHash = query.bytes("info_hash").flatMap(SHA1Hash.init(bytes:)) else {
            return refuse("info_hash must be 20 bytes")
        }
        guard let peerID = query.bytes("peer_id"), peerID.count == 20 else { return refuse("peer_id must be 20 bytes") }
        guard let port = query.integer("port"), (0...65535).contains(port) else { return refuse("port must be 0 to 65535") }
        guard let left = query.integer("left"), left >= 0 else { return refuse("left must be a byte count") }
        guard server.serves(infoHash) else { return refuse("unregistered torrent") }
        guard let ip = remote?.ip else { return refuse("no address to reach you at") }
        let event = query.text("event").map(AnnounceEvent.init(httpName:)) ?? .none
        let numWant = server.peersToSend(numWant: query.integer("numwant").map { Int(clamping: $0) })
        var compact = ByteBuffer()
        let now = server.now
        let peer = TrackedPeer(ip, port: UInt16(port))
        // A peer that gives port 0 cannot be reached: it is answered, not recorded.
        let answer = server.registry.withLock { registry in
            registry.announce(infoHash, from: peer, left: left, event: event, now: now, numWant: numWant, record: port != 0, into: &compact)
        }
        guard let counts = answer else { return refuse("the tracker is full") }
        server.counters.httpAnnounces.add(1, ordering: .relaxed)
        var reply: BencodeDictionary = [
            "interval": .integer(Int64(server.configuration.interval)),
            "min interval": .integer(Int64(server.configuration.minInterval)),
            "complete": .integer(Int64(counts.seeders)),
            "incomplete": .integer(Int64(counts.leechers)),
        ]
        let bytes = Array(compact.readableBytesView)
        let isV6: Bool = if case .v6 = peer { true } else { false }
        if query.text("compact") == "0" {
            let peers = PeerAddress.parseCompact(bytes, width: isV6 ? 18 : 6) ?? []
            reply["peers"] = .list(BencodeList(peers.map { peer in
                .dictionary(["ip": .text(peer.ip.description), "port": .integer(Int64(peer.port))])
            }))
        } else {
            reply["peers"] = .string(isV6 ? [] : bytes)
            if isV6 { reply["peers6"] = .string(bytes) }
        }
        return ByteBuffer(bytes: BencodeValue.dictionary(reply).encoded())
    }

    private func scrape(_ query: Query) -> ByteBuffer {
        let hashes = query.all("info_hash").compactMap(SHA1Hash.init(bytes:))
        guard !hashes.isEmpty else { return refuse("a scrape names the torrents it asks about; full scrapes are not offered") }
        guard hashes.count <= Self.maxScrapeHashes else { return refuse("at most \(Self.maxScrapeHashes) torrents per scrape") }
        server.counters.httpScrapes.add(1, ordering: .relaxed)
        let counts = server.counts(for: hashes)
        var files = BencodeDictionary()
        for (hash, count) in zip(hashes, counts) {
            guard let count else { continue }
            files[hash.bytes] = .dictionary([
                "complete": .integer(Int64(count.seeders)),
                "downloaded": .integer(Int64(count.completed)),
                "incomplete": .integer(Int64(count.leechers)),
            ])
        }
        return ByteBuffer(bytes: BencodeValue.dictionary(["files": .dictionary(files)]).encoded())
    }

    private func refuse(_ reason: String) -> ByteBuffer {
        server.counters.refused.add(1, ordering: .relaxed)
        return failure(reason)
    }

    private func failure(_ reason: String) -> ByteBuffer {
        ByteBuffer(bytes: BencodeValue.dictionary(["failure reason": .text(reason)]).encoded())
    }
}

/// A URL query's parameters, percent-decoded on demand.
private struct Query {
    private let pairs: [(key: String, value: ArraySlice<UInt8>)]

    init(_ query: some Collection<UInt8>) {
        pairs = Array(query).split(separator: UInt8(ascii: "&")).prefix(64).map { pair in
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            return (String(decoding: parts[0], as: UTF8.self), parts.count > 1 ? parts[1] : [])
        }
    }

    /// Every value of `key`, decoded. `+` stays itself: values here are binary or numbers, never form text.
    func all(_ key: String) -> [[UInt8]] {
        pairs.filter { $0.key == key }.compactMap { PercentEncoding.decode($0.value) }
    }

    func bytes(_ key: String) -> [UInt8]? { all(key).first }

    func text(_ key: String) -> String? { bytes(key).map { String(decoding: $0, as: UTF8.self) } }

    func integer(_ key: String) -> Int64? { text(key).flatMap { Int64($0) } }
}
