import Bencode
import Metainfo
import Testing
@testable import Tracker

@Suite struct HTTPTrackerCodecTests {
    let hash = SHA1Hash(bytes: [UInt8](0..<20))!
    let peerID = Array("-SH0100-abcdefghijkl".utf8)

    @Test("An announce URL carries every BEP 3 field, binary values escaped byte by byte")
    func announceURL() {
        var request = AnnounceRequest(infoHash: hash, peerID: peerID, port: 6881, uploaded: 5, downloaded: 7, left: 100,
                                      event: .started, numWant: 50, key: 0xBEEF, trackerID: Array("id 1".utf8))
        let url = HTTPTrackerCodec.announceURL("http://t.example/announce", request)
        #expect(url.hasPrefix("http://t.example/announce?info_hash=%00%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F%10%11%12%13&"))
        for part in ["peer_id=-SH0100-abcdefghijkl", "port=6881", "uploaded=5", "downloaded=7", "left=100", "compact=1",
                     "event=started", "numwant=50", "key=beef", "trackerid=id%201"] {
            #expect(url.contains("&" + part), "missing \(part) in \(url)")
        }
        request.event = .none
        request.trackerID = nil
        let periodic = HTTPTrackerCodec.announceURL("http://t.example/announce.php?passkey=x", request)
        #expect(periodic.hasPrefix("http://t.example/announce.php?passkey=x&info_hash="))
        #expect(!periodic.contains("event="))
        #expect(!periodic.contains("trackerid="))
    }

    @Test("Scrape URLs follow BEP 48's examples", arguments: [
        ("http://example.com/announce", "http://example.com/scrape"),
        ("http://example.com/x/announce", "http://example.com/x/scrape"),
        ("http://example.com/announce.php", "http://example.com/scrape.php"),
        ("http://example.com/a", nil),
        ("http://example.com/announce?x2%0644", "http://example.com/scrape?x2%0644"),
        ("http://example.com/announce?x=2/4", "http://example.com/scrape?x=2/4"),
        ("http://example.com/x%064announce", nil),
    ] as [(String, String?)])
    func scrapeURL(announce: String, scrape: String?) {
        #expect(HTTPTrackerCodec.scrapeURL(forAnnounce: announce) == scrape)
    }

    @Test("A reply with compact IPv4, IPv6 and counts")
    func compactReply() throws {
        let reply: BencodeValue = .dictionary([
            "interval": .integer(1800), "min interval": .integer(60), "complete": .integer(3), "incomplete": .integer(9),
            "tracker id": .text("abc"), "warning message": .text("be nice"),
            "peers": .string([127, 0, 0, 1, 0x1A, 0xE1, 10, 0, 0, 2, 0, 0]),
            "peers6": .string([UInt8](repeating: 0, count: 15) + [1, 0x1A, 0xE2]),
        ])
        let response = try HTTPTrackerCodec.parseAnnounce(reply.encoded())
        #expect(response.interval == 1800)
        #expect(response.minInterval == 60)
        #expect(response.seeders == 3)
        #expect(response.leechers == 9)
        #expect(response.trackerID == Array("abc".utf8))
        #expect(response.warning == "be nice")
        // The port-0 entry is nobody's.
        #expect(response.peers.map(\.description) == ["127.0.0.1:6881", "[::1]:6882"])
    }

    @Test("A reply with dictionary peers; unusable entries are skipped")
    func dictionaryReply() throws {
        let reply: BencodeValue = .dictionary([
            "interval": .integer(900),
            "peers": .list([
                .dictionary(["ip": .text("192.0.2.7"), "peer id": .string([UInt8](repeating: 1, count: 20)), "port": .integer(51413)]),
                .dictionary(["ip": .text("tracker.example"), "port": .integer(1)]),
                .dictionary(["ip": .text("2001:db8::5"), "port": .integer(70000)]),
                .integer(5),
            ]),
        ])
        let response = try HTTPTrackerCodec.parseAnnounce(reply.encoded())
        #expect(response.peers == [PeerAddress(ip: IPAddress("192.0.2.7")!, port: 51413)])
    }

    @Test("Failure reasons, bad shapes and oversized peer lists")
    func badReplies() throws {
        #expect(throws: TrackerError.failure("unregistered torrent")) {
            try HTTPTrackerCodec.parseAnnounce(BencodeValue.dictionary(["failure reason": .text("unregistered torrent")]).encoded())
        }
        #expect(throws: TrackerError.self) { try HTTPTrackerCodec.parseAnnounce(Array("<html>busy</html>".utf8)) }
        #expect(throws: TrackerError.self) { try HTTPTrackerCodec.parseAnnounce(BencodeValue.list([]).encoded()) }
        #expect(throws: TrackerError.malformed("no interval")) {
            try HTTPTrackerCodec.parseAnnounce(BencodeValue.dictionary(["peers": .string([])]).encoded())
        }
        #expect(throws: TrackerError.self) {
            try HTTPTrackerCodec.parseAnnounce(BencodeValue.dictionary(["interval": .integer(5), "peers": .string([1, 2, 3, 4, 5])]).encoded())
        }
        // 5000 peers come back as the first 1000.
        let many = (0..<5000).flatMap { index -> [UInt8] in [10, 0, UInt8(index >> 8), UInt8(index & 0xff), 0x1A, 0xE1] }
        let response = try HTTPTrackerCodec.parseAnnounce(BencodeValue.dictionary(["interval": .integer(5), "peers": .string(many)]).encoded())
        #expect(response.peers.count == TrackerLimits.maxPeersPerReply)
        // A reason longer than the limit is cut.
        let long = String(repeating: "x", count: 10_000)
        #expect(throws: TrackerError.failure(String(repeating: "x", count: TrackerLimits.maxMessageLength))) {
            try HTTPTrackerCodec.parseAnnounce(BencodeValue.dictionary(["failure reason": .text(long)]).encoded())
        }
    }

    @Test("A scrape reply's counts for the asked torrent")
    func scrapeReply() throws {
        let reply: BencodeValue = .dictionary(["files": .dictionary(BencodeDictionary())])
        #expect(try HTTPTrackerCodec.parseScrape(reply.encoded(), infoHash: hash) == nil)
        var files = BencodeDictionary()
        files[hash.bytes] = .dictionary(["complete": .integer(2), "downloaded": .integer(10), "incomplete": .integer(4)])
        let counts = try HTTPTrackerCodec.parseScrape(BencodeValue.dictionary(["files": .dictionary(files)]).encoded(), infoHash: hash)
        #expect(counts == ScrapeCounts(seeders: 2, leechers: 4, completed: 10))
        let url = HTTPTrackerCodec.scrapeURL("http://t.example/scrape", infoHashes: [hash, hash])
        #expect(url.components(separatedBy: "info_hash=").count == 3)
    }
}

extension String {
    fileprivate func components(separatedBy separator: String) -> [Substring] { split(separator: separator, omittingEmptySubsequences: false) }
}
