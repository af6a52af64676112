import Metainfo
import Testing
@testable import LocalDiscovery

@Suite struct LocalAnnounceTests {
    static let hash = SHA1Hash(hex: "0123456789abcdef0123456789abcdef01234567")!

    @Test("An announce is BEP 14's request, to the group it is sent to, and reads back the same")
    func roundTrip() throws {
        let announce = LocalAnnounce(port: 6881, infoHashes: [Self.hash], cookie: "abc")
        let text = String(decoding: announce.encoded(host: LocalAnnounce.groupV4), as: UTF8.self)
        #expect(text == "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\n"
            + "Infohash: 0123456789abcdef0123456789abcdef01234567\r\ncookie: abc\r\n\r\n\r\n")
        #expect(String(decoding: announce.encoded(host: LocalAnnounce.groupV6), as: UTF8.self).contains("Host: [ff15::efc0:988f]:6771\r\n"))
        #expect(try LocalAnnounce(parsing: announce.encoded(host: LocalAnnounce.groupV4)) == announce)
    }

    @Test("Headers in any case, unknown headers, bad info-hashes and repeats are tolerated; libtorrent's form reads")
    func lenient() throws {
        let text = "BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nport:51413\r\nX-Other: 1\r\n"
            + "INFOHASH: 0123456789ABCDEF0123456789ABCDEF01234567\r\nInfohash: nothex\r\n"
            + "Infohash: 0123456789abcdef0123456789abcdef01234567\r\n\r\n\r\n"
        let announce = try LocalAnnounce(parsing: Array(text.utf8))
        #expect(announce.port == 51413 && announce.infoHashes == [Self.hash] && announce.cookie == nil)
    }

    @Test("Datagrams without the request line, a port or an info-hash, or over 1400 bytes, are refused", arguments: [
        "GET / HTTP/1.1\r\nPort: 1\r\nInfohash: 0123456789abcdef0123456789abcdef01234567\r\n\r\n",
        "BT-SEARCH * HTTP/1.1\r\nInfohash: 0123456789abcdef0123456789abcdef01234567\r\n\r\n",
        "BT-SEARCH * HTTP/1.1\r\nPort: 0\r\nInfohash: 0123456789abcdef0123456789abcdef01234567\r\n\r\n",
        "BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\n\r\n",
        "BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\n" + String(repeating: "X: y\r\n", count: 300),
        "",
    ])
    func refuses(text: String) {
        #expect(throws: LocalAnnounceError.self) { try LocalAnnounce(parsing: Array(text.utf8)) }
    }

    @Test("At most 24 info-hashes are read from one announce")
    func bounded() throws {
        var text = "BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\n"
        for i in 0..<26 { text += "Infohash:\(String(repeating: "0", count: 38))\(String(i + 16, radix: 16))\r\n" }
        #expect(try LocalAnnounce(parsing: Array(text.utf8)).infoHashes.count == LocalAnnounce.maxInfoHashes)
    }
}
