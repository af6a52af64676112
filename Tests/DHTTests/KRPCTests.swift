import Bencode
import Metainfo
import Testing
@testable import DHT

private let queryingID = NodeID(bytes: Array("abcdefghij0123456789".utf8))!
private let queriedID = NodeID(bytes: Array("mnopqrstuvwxyz123456".utf8))!
private let aa = TransactionID(bytes: Array("aa".utf8))!

private func decode(_ text: String) throws(KRPCError) -> KRPCMessage { try KRPCMessage(decoding: Array(text.utf8)) }

/// The reason a datagram is refused, or nil if it is accepted.
private func rejection(_ bytes: [UInt8]) -> KRPCError.Reason? {
    do {
        _ = try KRPCMessage(decoding: bytes)
        return nil
    } catch {
        return error.reason
    }
}

@Suite struct KRPCTests {
    @Test("BEP 5's example messages decode to what they say and encode back byte for byte")
    func bep5Examples() throws {
        let examples: [(String, KRPCMessage.Body)] = [
            ("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee", .error(.init(code: 201, message: "A Generic Error Ocurred"))),
            ("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe", .query(.init(sender: queryingID, method: .ping))),
            ("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re", .response(.init(id: queriedID))),
            ("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
             .query(.init(sender: queryingID, method: .findNode(target: queriedID, want: [])))),
            ("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
             .query(.init(sender: queryingID, method: .getPeers(infoHash: queriedID.infoHash, want: [])))),
            ("d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
             .response(.init(id: queryingID, values: PeerAddress.parseCompact(Array("axje.uidhtnm".utf8), width: 6)!,
                             token: Array("aoeusnth".utf8)))),
            ("d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
             .query(.init(sender: queryingID, method: .announcePeer(infoHash: queriedID.infoHash, port: 6881, impliedPort: false,
                                                                     token: Array("aoeusnth".utf8))))),
        ]
        for (text, body) in examples {
            let message = try decode(text)
            #expect(message == KRPCMessage(transactionID: aa, body: body), "\(text)")
            #expect(message.encoded() == Array(text.utf8))
        }
    }

    @Test("BEP 5's find_node reply example holds a 9-byte placeholder for nodes, which is not whole compact nodes")
    func bep5NodesPlaceholder() throws {
        let error = #expect(throws: KRPCError.self) {
            try decode("d1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re")
        }
        #expect(error?.reason == .wrongLength(key: "nodes", length: 9, expected: "a multiple of 26"))
        #expect(error?.transactionID == aa)
    }

    @Test("Every kind of message, with every optional field, round-trips")
    func roundTrips() throws {
        var generator = SplitMix64(seed: 7)
        let v4 = (0..<8).map { NodeInfo(id: .random(using: &generator), address: PeerAddress(ip: .v4(0x0a00_0001 + UInt32($0)), port: 6881)) }
        let v6 = (0..<3).map { NodeInfo(id: .random(using: &generator), address: PeerAddress(ip: .v6(0x2001_0db8 << 96 | UInt128($0)), port: 6882)) }
        let peers = [PeerAddress(ip: .v4(0xc000_0201), port: 51413), PeerAddress(ip: .v6(1), port: 1)]
        let id = NodeID.random(using: &generator)
        let infoHash = NodeID.random(using: &generator).infoHash
        let bodies: [KRPCMessage.Body] = [
            .query(.init(sender: id, method: .ping)),
            .query(.init(sender: id, method: .findNode(target: v4[0].id, want: [.n4, .n6]))),
            .query(.init(sender: id, method: .getPeers(infoHash: infoHash, want: [.n6]))),
            .query(.init(sender: id, method: .announcePeer(infoHash: infoHash, port: 6881, impliedPort: true, token: [1, 2, 3, 4]))),
            .query(.init(sender: id, method: .unknown(name: Array("sample_infohashes".utf8)))),
            .response(.init(id: id, nodes: v4, nodes6: v6, values: peers, token: [9, 9])),
            .response(.init(id: id, nodes6: v6)),
            .error(.protocolError("bad token")),
            .error(.methodUnknown),
        ]
        for body in bodies {
            let message = KRPCMessage(transactionID: TransactionID(0xbeef), body: body, clientVersion: Array("SH01".utf8), isReadOnly: true,
                                      requesterAddress: PeerAddress(ip: .v4(0xcb00_7109), port: 4000))
            #expect(try KRPCMessage(decoding: message.encoded()) == message)
        }
    }

    @Test("Wire details: ro is 2:roi1e, ip is compact, want lists n4 then n6, implied_port is sent only when set")
    func wireDetails() throws {
        let message = KRPCMessage(transactionID: aa, body: .query(.init(sender: queryingID, method: .findNode(target: queriedID, want: [.n6, .n4]))),
                                  isReadOnly: true, requesterAddress: PeerAddress(ip: .v4(0x7f00_0001), port: 0x1ae1))
        let text = String(decoding: message.encoded(), as: UTF8.self)
        #expect(text.contains("2:roi1e"))
        #expect(text.contains("4:wantl2:n42:n6e"))
        #expect(message.encoded().starts(with: Array("d1:ad2:id20:abcdefghij0123456789".utf8)))
        #expect(message.encoded().contains(subsequence: Array("2:ip6:".utf8) + [127, 0, 0, 1, 0x1a, 0xe1]))
        let announce = KRPCMessage(transactionID: aa, body: .query(.init(sender: queryingID, method: .announcePeer(
            infoHash: queriedID.infoHash, port: 1, impliedPort: false, token: [1]))))
        #expect(!String(decoding: announce.encoded(), as: UTF8.self).contains("implied_port"))
    }

    @Test("Keys out of order, unknown keys and unknown methods are accepted")
    func lenience() throws {
        let unsorted = try decode("d1:t2:aa1:y1:q1:q4:ping1:ad2:id20:abcdefghij0123456789ee")
        #expect(unsorted.body == .query(.init(sender: queryingID, method: .ping)))
        let unknown = try decode("d1:ad2:id20:abcdefghij01234567895:extrai1ee1:q4:vote1:t2:aa1:v4:LT011:y1:q3:zzz0:e")
        #expect(unknown.body == .query(.init(sender: queryingID, method: .unknown(name: Array("vote".utf8)))))
        #expect(unknown.clientVersion == Array("LT01".utf8))
        // announce_peer with implied_port may leave port out.
        let implied = try decode("d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234565:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe")
        #expect(implied.body == .query(.init(sender: queryingID, method: .announcePeer(infoHash: queriedID.infoHash, port: 0, impliedPort: true, token: [120]))))
        // An error without a message, and want entries nobody knows.
        #expect(try decode("d1:eli202ee1:t2:aa1:y1:ee").body == .error(.init(code: 202, message: "")))
        let want = try decode("d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n62:n8ee1:q9:find_node1:t2:aa1:y1:qe")
        #expect(want.body == .query(.init(sender: queryingID, method: .findNode(target: queriedID, want: [.n6]))))
    }

    @Test("Malformed, oversized, deep and wrong-length input is refused with the reason")
    func rejections() {
        let ping = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"
        #expect(rejection([UInt8](repeating: 0x20, count: 2049)) == .datagramTooLarge(size: 2049, limit: 2048))
        #expect(rejection(Array("li1ee".utf8)) == .wrongType(key: "message", expected: "dictionary"))
        #expect(rejection(Array("d1:y1:qe".utf8)) == .missingKey("t"))
        #expect(rejection(Array("d1:t17:aaaaaaaaaaaaaaaaa1:y1:re".utf8)) == .wrongLength(key: "t", length: 17, expected: "1 to 16"))
        #expect(rejection(Array("d1:t0:1:y1:re".utf8)) == .wrongLength(key: "t", length: 0, expected: "1 to 16"))
        #expect(rejection(Array("d1:t2:aa1:y1:xe".utf8)) == .unknownMessageType(Array("x".utf8)))
        #expect(rejection(Array("d1:ad2:id19:abcdefghij012345678e1:q4:ping1:t2:aa1:y1:qe".utf8))
            == .wrongLength(key: "id", length: 19, expected: "20"))
        #expect(rejection(Array("d1:t2:aa1:y1:qe".utf8)) == .missingKey("a"))
        #expect(rejection(Array("d1:ad2:id20:abcdefghij0123456789e1:t2:aa1:y1:qe".utf8)) == .missingKey("q"))
        #expect(rejection(Array("d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe".utf8)) == .missingKey("target"))
        #expect(rejection(Array("d1:rd2:idi5ee1:t2:aa1:y1:re".utf8)) == .wrongType(key: "id", expected: "byte string"))
        #expect(rejection(Array("d1:rle1:t2:aa1:y1:re".utf8)) == .wrongType(key: "r", expected: "dictionary"))
        #expect(rejection(Array("d1:e4:oops1:t2:aa1:y1:ee".utf8)) == .wrongType(key: "e", expected: "list of an integer code and a message"))
        // Nesting beyond depth 4.
        #expect(rejection(Array("d1:ad2:id20:abcdefghij01234567891:xld1:yleeee1:q4:ping1:t2:aa1:y1:qe".utf8))
            == .bencode(BencodeError(.nestingTooDeep(limit: 4), at: 40)))
        // Nodes and values of the wrong sizes.
        let id = "2:id20:mnopqrstuvwxyz123456"
        #expect(rejection(Array("d1:rd\(id)6:nodes627:\(String(repeating: "x", count: 27))e1:t2:aa1:y1:re".utf8))
            == .wrongLength(key: "nodes6", length: 27, expected: "a multiple of 38"))
        #expect(rejection(Array("d1:rd\(id)6:valuesl7:abcdefgee1:t2:aa1:y1:re".utf8)) == .wrongLength(key: "values", length: 7, expected: "6 or 18"))
        #expect(rejection(Array("d1:rd\(id)6:valuesli6eee1:t2:aa1:y1:re".utf8)) == .wrongType(key: "values", expected: "list of byte strings"))
        let tooMany = String(repeating: "6:abcdef", count: 201)
        #expect(rejection(Array("d1:rd\(id)6:valuesl\(tooMany)ee1:t2:aa1:y1:re".utf8)) == .tooMany(key: "values", count: 201, limit: 200))
        #expect(rejection(Array("d1:rd\(id)5:token65:\(String(repeating: "t", count: 65))e1:t2:aa1:y1:re".utf8))
            == .wrongLength(key: "token", length: 65, expected: "at most 64"))
        // Too many values in all, even where each is harmless.
        let flood = String(repeating: "i0e", count: 600)
        #expect(rejection(Array("d1:rd\(id)e1:t2:aa1:xl\(flood)e1:y1:re".utf8)) == .bencode(BencodeError(.tooManyElements(limit: 512), at: 1553)))
        // Ports.
        let announce = { (port: String) in
            "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:port\(port)5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe"
        }
        #expect(rejection(Array(announce("i70000e").utf8)) == .outOfRange(key: "port", value: 70000))
        #expect(rejection(Array(announce("i0e").utf8)) == .outOfRange(key: "port", value: 0))
        #expect(rejection(Array(announce("i-1e").utf8)) == .outOfRange(key: "port", value: -1))
        #expect(rejection(Array(announce("3:abc").utf8)) == .wrongType(key: "port", expected: "integer"))
        #expect(rejection(Array("not bencode".utf8)) != nil)
        #expect(rejection(Array(ping.utf8)) == nil)
    }

    @Test("A malformed query's error still carries its transaction id, so it can be answered with 203")
    func transactionIDOnError() throws {
        let error = #expect(throws: KRPCError.self) { try decode("d1:ad2:id3:abce1:q4:ping1:t2:xy1:y1:qe") }
        #expect(error?.transactionID == TransactionID(bytes: Array("xy".utf8)))
        #expect(error?.description == "KRPC: 'id' has 3 bytes, expected 20")
    }

    @Test("Values are trimmed to fit a byte budget, keeping as many as fit")
    func trimming() throws {
        let peers = (0..<100).map { PeerAddress(ip: .v4(0x0a00_0000 + UInt32($0)), port: 6881) }
        let full = KRPCMessage(transactionID: aa, body: .response(.init(id: queriedID, values: peers, token: [1, 2, 3, 4, 5, 6, 7, 8])))
        #expect(full.encodedSize == full.encoded().count)
        for budget in [100, 500, 800, 1000] {
            var message = full
            message.trimValues(toFit: budget)
            guard case .response(let response) = message.body else { throw KRPCError(.missingKey("r")) }
            #expect(message.encodedSize <= budget || response.values.isEmpty)
            if response.values.count < peers.count {
                var oneMore = response
                oneMore.values = Array(peers.prefix(response.values.count + 1))
                #expect(KRPCMessage(transactionID: aa, body: .response(oneMore)).encodedSize > budget)
            }
            #expect(response.values == Array(peers.prefix(response.values.count)))
        }
        var small = full
        small.trimValues(toFit: 4096)
        #expect(small == full)
    }
}

extension Array where Element == UInt8 {
    fileprivate func contains(subsequence: [UInt8]) -> Bool {
        guard subsequence.count <= count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<($0 + subsequence.count)]) == subsequence }
    }
}
