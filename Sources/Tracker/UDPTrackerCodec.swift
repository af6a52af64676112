import Metainfo
import NIOCore

/// The UDP tracker protocol as values (BEP 15, URL data BEP 41), both ways: what a client sends and reads,
/// and what a tracker reads and sends. Every reader checks lengths first and returns nil or throws on anything
/// short or unknown.
public enum UDPTrackerCodec {
    /// The magic number a connect request starts with.
    public static let protocolID: UInt64 = 0x417_2710_1980

    /// BEP 15's actions.
    public enum Action: UInt32, Sendable {
        case connect = 0
        case announce = 1
        case scrape = 2
        case error = 3
    }

    /// The most info-hashes one scrape packet may ask about (BEP 15: about 74 fit a safe datagram).
    public static let maxScrapeHashes = 74
    /// The most peers one announce reply carries: 200 IPv6 peers still fit a 4 KB datagram.
    public static let maxReplyPeers = 200

    // MARK: Client side

    /// A connect request (16 bytes).
    public static func connectRequest(transaction: UInt32) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(protocolID)
        buffer.writeInteger(Action.connect.rawValue)
        buffer.writeInteger(transaction)
        return buffer
    }

    /// An announce request (98 bytes), followed by the URL's path and query as BEP 41 options when there is any.
    public static func announceRequest(connectionID: UInt64, transaction: UInt32, _ request: AnnounceRequest,
                                       urlData: [UInt8] = []) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(98 + urlData.count + urlData.count / 255 * 2 + 3)
        buffer.writeInteger(connectionID)
        buffer.writeInteger(Action.announce.rawValue)
        buffer.writeInteger(transaction)
        buffer.writeBytes(request.infoHash.bytes)
        buffer.writeBytes(request.peerID)
        buffer.writeInteger(request.downloaded)
        buffer.writeInteger(request.left)
        buffer.writeInteger(request.uploaded)
        buffer.writeInteger(request.event.rawValue)
        buffer.writeInteger(UInt32(0))  // ip: the tracker takes the sender's
        buffer.writeInteger(request.key)
        buffer.writeInteger(Int32(clamping: request.numWant ?? -1))
        buffer.writeInteger(request.port)
        if !urlData.isEmpty {
            var rest = urlData[...]
            while !rest.isEmpty {
                let chunk = rest.prefix(255)
                buffer.writeInteger(UInt8(2))
                buffer.writeInteger(UInt8(chunk.count))
                buffer.writeBytes(chunk)
                rest = rest.dropFirst(chunk.count)
            }
            buffer.writeInteger(UInt8(0))
        }
        return buffer
    }

    /// A scrape request for up to ``maxScrapeHashes`` info-hashes.
    public static func scrapeRequest(connectionID: UInt64, transaction: UInt32, infoHashes: [SHA1Hash]) -> ByteBuffer {
        precondition(infoHashes.count <= maxScrapeHashes, "too many info-hashes for one scrape")
        var buffer = ByteBuffer()
        buffer.writeInteger(connectionID)
        buffer.writeInteger(Action.scrape.rawValue)
        buffer.writeInteger(transaction)
        for hash in infoHashes { buffer.writeBytes(hash.bytes) }
        return buffer
    }

    /// A tracker's reply, as a client reads it.
    public enum Reply: Sendable, Hashable {
        case connected(connectionID: UInt64)
        case announced(AnnounceResponse)
        case scraped([ScrapeCounts])
        case error(String)
    }

    /// The transaction id a reply answers, if the packet is long enough to carry one.
    public static func transaction(of packet: ByteBuffer) -> UInt32? { packet.getInteger(at: packet.readerIndex + 4) }

    /// Reads a reply. `peerWidth` is 6 when the tracker was reached over IPv4 and 18 over IPv6: BEP 15 peers
    /// come in the family of the socket.
    public static func parseReply(_ packet: ByteBuffer, peerWidth: Int) throws(TrackerError) -> Reply {
        var packet = packet
        guard let rawAction = packet.readInteger(as: UInt32.self), packet.readInteger(as: UInt32.self) != nil,
              let action = Action(rawValue: rawAction) else { throw .malformed("a \(packet.readableBytes)-byte packet with no known action") }
        switch action {
        case .connect:
            guard let id = packet.readInteger(as: UInt64.self) else { throw .malformed("a connect reply of \(packet.readableBytes + 8) bytes") }
            return .connected(connectionID: id)
        case .announce:
            guard let interval = packet.readInteger(as: UInt32.self), let leechers = packet.readInteger(as: UInt32.self),
                  let seeders = packet.readInteger(as: UInt32.self) else { throw .malformed("an announce reply shorter than 20 bytes") }
            let bytes = packet.readBytes(length: packet.readableBytes) ?? []
            guard let peers = PeerAddress.parseCompact(bytes, width: peerWidth, limit: TrackerLimits.maxPeersPerReply) else {
                throw .malformed("\(bytes.count) bytes of peers, not a multiple of \(peerWidth)")
            }
            return .announced(AnnounceResponse(interval: Int(min(interval, 86_400)), peers: peers,
                                               seeders: Int(min(seeders, UInt32(Int32.max))), leechers: Int(min(leechers, UInt32(Int32.max)))))
        case .scrape:
            var counts: [ScrapeCounts] = []
            while let seeders = packet.readInteger(as: UInt32.self), let completed = packet.readInteger(as: UInt32.self),
                  let leechers = packet.readInteger(as: UInt32.self) {
                counts.append(ScrapeCounts(seeders: Int(seeders), leechers: Int(leechers), completed: Int(completed)))
            }
            return .scraped(counts)
        case .error:
            let text = packet.readBytes(length: min(packet.readableBytes, TrackerLimits.maxMessageLength)) ?? []
            return .error(String(decoding: text, as: UTF8.self))
        }
    }

    // MARK: Tracker side

    /// An announce as a tracker reads it: only what a tracker uses.
    public struct IncomingAnnounce: Sendable, Hashable {
        public var infoHash: SHA1Hash
        public var left: Int64
        public var event: AnnounceEvent
        public var numWant: Int32
        public var port: UInt16
    }

    /// A request, as a tracker reads it.
    public enum Request: Sendable, Hashable {
        case connect(transaction: UInt32)
        case announce(connectionID: UInt64, transaction: UInt32, IncomingAnnounce)
        case scrape(connectionID: UInt64, transaction: UInt32, [SHA1Hash])
        /// An announce too short to read: a tracker answers with an error packet no longer than it.
        case malformed(transaction: UInt32, reason: String)
    }

    /// Reads a request; nil for anything that is not one (shorter than a header, unknown action, a connect
    /// without the magic number), which a tracker drops without a word.
    public static func parseRequest(_ packet: ByteBuffer) -> Request? {
        let start = packet.readerIndex
        guard let connectionID = packet.getInteger(at: start, as: UInt64.self),
              let rawAction = packet.getInteger(at: start + 8, as: UInt32.self),
              let transaction = packet.getInteger(at: start + 12, as: UInt32.self),
              let action = Action(rawValue: rawAction) else { return nil }
        switch action {
        case .connect:
            guard connectionID == protocolID else { return nil }
            return .connect(transaction: transaction)
        case .announce:
            guard packet.readableBytes >= 98 else { return .malformed(transaction: transaction, reason: "malformed announce") }
            guard let infoHash = packet.withUnsafeReadableBytes({ SHA1Hash(prefixOf: UnsafeRawBufferPointer(rebasing: $0[16...])) }),
                  let left = packet.getInteger(at: start + 64, as: Int64.self),
                  let rawEvent = packet.getInteger(at: start + 80, as: Int32.self),
                  let numWant = packet.getInteger(at: start + 92, as: Int32.self),
                  let port = packet.getInteger(at: start + 96, as: UInt16.self) else { return nil }
            let announce = IncomingAnnounce(infoHash: infoHash, left: left, event: AnnounceEvent(rawValue: rawEvent) ?? .none,
                                            numWant: numWant, port: port)
            return .announce(connectionID: connectionID, transaction: transaction, announce)
        case .scrape:
            let count = min((packet.readableBytes - 16) / 20, maxScrapeHashes)
            let hashes = packet.withUnsafeReadableBytes { bytes in
                (0..<count).compactMap { SHA1Hash(prefixOf: UnsafeRawBufferPointer(rebasing: bytes[(16 + $0 * 20)...])) }
            }
            return .scrape(connectionID: connectionID, transaction: transaction, hashes)
        case .error:
            return nil
        }
    }

    /// A connect reply (16 bytes, as long as the request: no amplification).
    public static func writeConnectReply(transaction: UInt32, connectionID: UInt64, into buffer: inout ByteBuffer) {
        buffer.writeInteger(Action.connect.rawValue)
        buffer.writeInteger(transaction)
        buffer.writeInteger(connectionID)
    }

    /// The 20-byte head of an announce reply; the caller appends the compact peers.
    public static func writeAnnounceReplyHead(transaction: UInt32, interval: UInt32, leechers: UInt32, seeders: UInt32,
                                              into buffer: inout ByteBuffer) {
        buffer.writeInteger(Action.announce.rawValue)
        buffer.writeInteger(transaction)
        buffer.writeInteger(interval)
        buffer.writeInteger(leechers)
        buffer.writeInteger(seeders)
    }

    /// A scrape reply: 8 bytes and 12 per info-hash, never more than the 16 + 20 per hash asked.
    public static func writeScrapeReply(transaction: UInt32, counts: [ScrapeCounts], into buffer: inout ByteBuffer) {
        buffer.writeInteger(Action.scrape.rawValue)
        buffer.writeInteger(transaction)
        for count in counts {
            buffer.writeInteger(UInt32(clamping: count.seeders))
            buffer.writeInteger(UInt32(clamping: count.completed))
            buffer.writeInteger(UInt32(clamping: count.leechers))
        }
    }

    /// An error packet; the message is cut to `maxLength` bytes so the reply is never longer than the request.
    public static func writeError(transaction: UInt32, message: String, maxLength: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(Action.error.rawValue)
        buffer.writeInteger(transaction)
        buffer.writeBytes(message.utf8.prefix(max(0, maxLength - 8)))
    }

    /// The BEP 41 URL data of an announce packet (the announce URL's path and query), if it carries any.
    public static func urlData(of packet: ByteBuffer) -> [UInt8] {
        var packet = packet
        packet.moveReaderIndex(forwardBy: min(98, packet.readableBytes))
        var data: [UInt8] = []
        while let type = packet.readInteger(as: UInt8.self), type != 0 {
            if type == 1 { continue }
            guard let length = packet.readInteger(as: UInt8.self), let bytes = packet.readBytes(length: Int(length)) else { break }
            if type == 2 { data += bytes }
        }
        return data
    }
}
