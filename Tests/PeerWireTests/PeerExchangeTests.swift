import Metainfo
import Testing
@testable import PeerWire

@Suite struct PeerExchangeTests {
    static func peer(_ text: String) -> PeerAddress { PeerAddress(parsing: text)! }

    @Test("A message lists IPv4 and IPv6 peers apart, with a flag byte per added peer, and reads back the same")
    func roundTrip() throws {
        let message = PeerExchangeMessage(added: [(Self.peer("10.0.0.1:6881"), [.seed, .reachable]), (Self.peer("[2001:db8::1]:51413"), [])],
                                          dropped: [Self.peer("10.0.0.2:80")])
        let bytes = message.encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("d5:added6:"))
        #expect(bytes.count == "d5:added6:XXXXXX7:added.f1:X6:added618:".count + 18 + "8:added6.f1:X7:dropped6:XXXXXX8:dropped60:e".count)
        #expect(try PeerExchangeMessage(parsing: bytes) == message)
    }

    @Test("Each added peer keeps its own flag byte, also after a skipped entry with port 0")
    func flagsStayAligned() throws {
        let added: [UInt8] = [10, 0, 0, 1, 0, 0, 10, 0, 0, 2, 0x1A, 0xE1]
        let bytes = Array("d5:added12:".utf8) + added + Array("7:added.f2:".utf8) + [0x01, 0x12] + Array("e".utf8)
        let message = try PeerExchangeMessage(parsing: bytes)
        #expect(message.added.map(\.address) == [Self.peer("10.0.0.2:6881")])
        #expect(message.added.first?.flags == [.seed, .reachable])
    }

    @Test("Missing flags read as none; one IP address on several ports counts once; port 0 is skipped")
    func lenient() throws {
        let added: [UInt8] = [10, 0, 0, 1, 0x1A, 0xE1, 10, 0, 0, 1, 0x1A, 0xE2, 10, 0, 0, 3, 0, 0]
        let bytes = Array("d5:added18:".utf8) + added + Array("e".utf8)
        let message = try PeerExchangeMessage(parsing: bytes)
        #expect(message.added.map(\.address) == [Self.peer("10.0.0.1:6881")])
        #expect(message.added.first?.flags == [])
    }

    @Test("Lists of the wrong length and non-dictionaries are errors", arguments: [
        "d5:added5:12345e", "d7:dropped7:1234567e", "li1ee", "d5:added", "",
    ])
    func rejects(text: String) {
        #expect(throws: PeerWireError.self) { try PeerExchangeMessage(parsing: Array(text.utf8)) }
    }

    @Test("At most 200 added peers are read from one message")
    func bounded() throws {
        let peers = (0..<1000).flatMap { i -> [UInt8] in [10, UInt8(i >> 8), UInt8(i & 0xff), 1, 0x1A, 0xE1] }
        let bytes = Array("d5:added6000:".utf8) + peers + Array("e".utf8)
        #expect(try PeerExchangeMessage(parsing: bytes).added.count == PeerExchangeMessage.maxEntriesRead)
    }
}
