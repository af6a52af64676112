import Metainfo
import NIOCore
import Testing
@testable import Tracker

@Suite struct UDPTrackerCodecTests {
    let request = AnnounceRequest(infoHash: SHA1Hash(bytes: [UInt8](repeating: 7, count: 20))!, peerID: [UInt8](repeating: 9, count: 20),
                                  port: 51413, uploaded: 3, downloaded: 2, left: 1, event: .completed, numWant: 30, key: 77)

    @Test("A connect request is the 16 bytes BEP 15 gives")
    func connect() {
        let packet = UDPTrackerCodec.connectRequest(transaction: 0xAABBCCDD)
        #expect(Array(packet.readableBytesView) == [0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 0, 0xAA, 0xBB, 0xCC, 0xDD])
        #expect(UDPTrackerCodec.parseRequest(packet) == .connect(transaction: 0xAABBCCDD))
    }

    @Test("An announce is 98 bytes at BEP 15's offsets, read back the same by the tracker side")
    func announceRoundTrip() {
        let packet = UDPTrackerCodec.announceRequest(connectionID: 42, transaction: 5, request)
        #expect(packet.readableBytes == 98)
        #expect(packet.getInteger(at: 80, as: Int32.self) == 1)  // completed
        #expect(packet.getInteger(at: 88, as: UInt32.self) == 77)  // key
        guard case .announce(let id, let transaction, let announce) = UDPTrackerCodec.parseRequest(packet) else {
            Issue.record("not read back as an announce")
            return
        }
        #expect(id == 42 && transaction == 5)
        #expect(announce == .init(infoHash: request.infoHash, left: 1, event: .completed, numWant: 30, port: 51413))
        #expect(UDPTrackerCodec.urlData(of: packet).isEmpty)
    }

    @Test("BEP 41: the URL's path and query ride after the announce in chunks of at most 255 bytes")
    func urlData() {
        let path = "/announce?" + String(repeating: "k", count: 600)
        let packet = UDPTrackerCodec.announceRequest(connectionID: 1, transaction: 1, request, urlData: Array(path.utf8))
        #expect(packet.readableBytes == 98 + 3 * 2 + path.utf8.count + 1)
        #expect(packet.getInteger(at: 98, as: UInt8.self) == 2)
        #expect(packet.getInteger(at: 99, as: UInt8.self) == 255)
        #expect(UDPTrackerCodec.urlData(of: packet) == Array(path.utf8))
    }

    @Test("Replies: connect, announce in either family, scrape, error")
    func replies() throws {
        var buffer = ByteBuffer()
        UDPTrackerCodec.writeConnectReply(transaction: 9, connectionID: 0x1122, into: &buffer)
        #expect(UDPTrackerCodec.transaction(of: buffer) == 9)
        #expect(try UDPTrackerCodec.parseReply(buffer, peerWidth: 6) == .connected(connectionID: 0x1122))

        buffer.clear()
        UDPTrackerCodec.writeAnnounceReplyHead(transaction: 9, interval: 900, leechers: 4, seeders: 2, into: &buffer)
        buffer.writeBytes([192, 0, 2, 1, 0x1A, 0xE1])
        guard case .announced(let v4) = try UDPTrackerCodec.parseReply(buffer, peerWidth: 6) else { throw Failure() }
        #expect(v4.interval == 900 && v4.seeders == 2 && v4.leechers == 4)
        #expect(v4.peers.map(\.description) == ["192.0.2.1:6881"])
        // Six bytes are no IPv6 peer.
        #expect(throws: TrackerError.self) { try UDPTrackerCodec.parseReply(buffer, peerWidth: 18) }

        buffer.clear()
        UDPTrackerCodec.writeScrapeReply(transaction: 9, counts: [.init(seeders: 1, leechers: 2, completed: 3)], into: &buffer)
        #expect(try UDPTrackerCodec.parseReply(buffer, peerWidth: 6) == .scraped([.init(seeders: 1, leechers: 2, completed: 3)]))

        buffer.clear()
        UDPTrackerCodec.writeError(transaction: 9, message: "go away, please", maxLength: 12, into: &buffer)
        #expect(buffer.readableBytes == 12)
        #expect(try UDPTrackerCodec.parseReply(buffer, peerWidth: 6) == .error("go a"))

        #expect(throws: TrackerError.self) { try UDPTrackerCodec.parseReply(ByteBuffer(bytes: [0, 0, 0, 7, 0, 0, 0, 1]), peerWidth: 6) }
        #expect(throws: TrackerError.self) { try UDPTrackerCodec.parseReply(ByteBuffer(bytes: [0, 0, 0, 0, 0, 0, 0, 1, 5]), peerWidth: 6) }
    }

    @Test("The tracker side drops anything that is not a request", arguments: [
        [UInt8](),
        [UInt8](repeating: 0, count: 15),
        [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],  // connect without the magic
        [UInt8](repeating: 0, count: 12) + [0, 0, 0, 1] + [UInt8](repeating: 0, count: 60),  // a long connect, no magic
        [UInt8](repeating: 0, count: 8) + [0, 0, 0, 3, 0, 0, 0, 1],  // an error is no request
        [UInt8](repeating: 0, count: 8) + [0, 0, 0, 9, 0, 0, 0, 1],
    ])
    func dropsNonRequests(bytes: [UInt8]) {
        #expect(UDPTrackerCodec.parseRequest(ByteBuffer(bytes: bytes)) == nil)
    }

    @Test("A truncated announce is read as malformed, with its transaction id, so it can be answered")
    func truncatedAnnounce() {
        var packet = UDPTrackerCodec.announceRequest(connectionID: 1, transaction: 99, request)
        packet.moveWriterIndex(to: 97)
        #expect(UDPTrackerCodec.parseRequest(packet) == .malformed(transaction: 99, reason: "malformed announce"))
    }

    @Test("A scrape request is read up to 74 hashes, whole hashes only")
    func scrapeRequest() {
        let hashes = (0..<80).map { SHA1Hash(bytes: [UInt8](repeating: UInt8($0), count: 20))! }
        var packet = UDPTrackerCodec.scrapeRequest(connectionID: 3, transaction: 4, infoHashes: Array(hashes.prefix(74)))
        packet.writeBytes(hashes[74].bytes + [1, 2, 3])
        guard case .scrape(_, _, let read) = UDPTrackerCodec.parseRequest(packet) else {
            Issue.record("not read back as a scrape")
            return
        }
        #expect(read == Array(hashes.prefix(74)))
    }

    struct Failure: Error {}
}
