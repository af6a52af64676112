import Metainfo
import NIOCore
@testable import PeerWire
import Testing

@Suite struct PeerMessageTests {
    static let root = SHA256Hash(bytes: (0..<32).map { UInt8($0) })!
    static let hashRequest = HashRequest(piecesRoot: root, baseLayer: 0, index: 512, length: 512, proofLayers: 7)

    static let samples: [PeerMessage] = [
        .keepAlive, .choke, .unchoke, .interested, .notInterested,
        .have(PieceIndex(Int(UInt32.max))),
        .bitfield([0xff, 0x80]),
        .bitfield([]),
        .request(BlockRequest(piece: 7, offset: 16_384, length: 16_384)),
        .piece(piece: 3, offset: 32_768, data: ByteBuffer(bytes: [1, 2, 3, 4, 5])),
        .piece(piece: 0, offset: 0, data: ByteBuffer()),
        .cancel(BlockRequest(piece: 1, offset: 0, length: 100)),
        .port(6881),
        .suggest(9), .haveAll, .haveNone,
        .reject(BlockRequest(piece: 2, offset: 16_384, length: 1)),
        .allowedFast(11),
        .extended(id: 0, payload: ByteBuffer(bytes: Array("d1:md11:ut_metadatai1eee".utf8))),
        .extended(id: 3, payload: ByteBuffer()),
        .hashRequest(hashRequest),
        .hashes(hashRequest, [root, .zero]),
        .hashReject(hashRequest),
        .unknown(id: 99, payload: ByteBuffer(bytes: [9, 9])),
    ]

    static func encode(_ messages: [PeerMessage]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for message in messages { message.write(to: &buffer) }
        return buffer
    }

    @Test func everyMessageRoundTrips() throws {
        for message in Self.samples {
            var buffer = Self.encode([message])
            let parsed = try PeerMessageParser().next(from: &buffer)
            #expect(parsed == message)
            #expect(buffer.readableBytes == 0, "\(message) left bytes behind")
        }
    }

    @Test func knownWireBytes() throws {
        #expect(Array(Self.encode([.have(PieceIndex(258))]).readableBytesView) == [0, 0, 0, 5, 4, 0, 0, 1, 2])
        #expect(Array(Self.encode([.keepAlive]).readableBytesView) == [0, 0, 0, 0])
        #expect(Array(Self.encode([.request(BlockRequest(piece: 1, offset: 2, length: 3))]).readableBytesView)
            == [0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3])
        #expect(Array(Self.encode([.haveAll]).readableBytesView) == [0, 0, 0, 1, 0x0e])
        #expect(Array(Self.encode([.port(0x1ae1)]).readableBytesView) == [0, 0, 0, 3, 9, 0x1a, 0xe1])
    }

    /// Every message, fed split at every byte offset, comes out whole and once, and never early.
    @Test func streamSplitAtEveryOffset() throws {
        let stream = Self.encode(Self.samples)
        let bytes = Array(stream.readableBytesView)
        let parser = PeerMessageParser()
        for split in 0...bytes.count {
            var buffer = ByteBuffer(bytes: bytes[..<split])
            var parsed: [PeerMessage] = []
            while let message = try parser.next(from: &buffer) { parsed.append(message) }
            buffer.writeBytes(bytes[split...])
            while let message = try parser.next(from: &buffer) { parsed.append(message) }
            #expect(parsed == Self.samples, "split at \(split)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test func oversizedMessagesAreRefusedFromTheirLengthPrefix() throws {
        let parser = PeerMessageParser(maxMessageLength: 100)
        // Only the 4-byte prefix has arrived, announcing a huge message: refused before any body is buffered.
        var buffer = ByteBuffer(bytes: [0x7f, 0xff, 0xff, 0xff])
        #expect(throws: PeerWireError(.messageTooLong(length: 0x7fff_ffff, limit: 100))) { try parser.next(from: &buffer) }
        var exact = Self.encode([.bitfield([UInt8](repeating: 0, count: 99))])
        #expect(try parser.next(from: &exact) == .bitfield([UInt8](repeating: 0, count: 99)))
    }

    @Test(arguments: [
        ([0, 0, 0, 2, 0, 0], UInt8(0)),          // choke with a payload
        ([0, 0, 0, 4, 4, 0, 0, 1], 4),           // have with 3 bytes
        ([0, 0, 0, 12, 6] + [UInt8](repeating: 0, count: 11), 6),  // request with 11 bytes
        ([0, 0, 0, 8, 7] + [UInt8](repeating: 0, count: 7), 7),    // piece without its offset
        ([0, 0, 0, 2, 9, 1], 9),                 // port with 1 byte
        ([0, 0, 0, 2, 14, 0], 14),               // have all with a payload
        ([0, 0, 0, 48, 21] + [UInt8](repeating: 0, count: 47), 21),    // hash request short
        ([0, 0, 0, 60, 22] + [UInt8](repeating: 0, count: 59), 22),    // hashes not a multiple of 32
    ] as [([UInt8], UInt8)])
    func wrongPayloadLengthsAreErrors(bytes: [UInt8], id: UInt8) {
        var buffer = ByteBuffer(bytes: bytes)
        let error = #expect(throws: PeerWireError.self) { try PeerMessageParser().next(from: &buffer) }
        guard case .wrongPayloadLength(let got, _, _)? = error?.reason else {
            Issue.record("unexpected \(String(describing: error))")
            return
        }
        #expect(got == id)
    }

    @Test func anExtendedMessageNeedsAnID() {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 1, 20])
        #expect(throws: PeerWireError.self) { try PeerMessageParser().next(from: &buffer) }
    }
}

@Suite struct HandshakeTests {
    static let hash = SHA1Hash(hex: "c12fe1c06bba254a9dc9f519b335aa7c1367a88a")!

    @Test func roundTripAndLayout() throws {
        var generator = SystemRandomNumberGenerator()
        let id = PeerID.shoal(version: (0, 1, 0), using: &generator)
        let handshake = Handshake(extensions: [.extensionProtocol, .fast, .dht], infoHash: Self.hash, peerID: id)
        var buffer = ByteBuffer()
        handshake.write(to: &buffer)
        let bytes = Array(buffer.readableBytesView)
        #expect(bytes.count == 68)
        #expect(Array(bytes[0..<20]) == [19] + Array("BitTorrent protocol".utf8))
        #expect(Array(bytes[20..<28]) == [0, 0, 0, 0, 0, 0x10, 0, 0x05])
        #expect(Array(bytes[28..<48]) == Self.hash.bytes)
        #expect(try Handshake.read(from: &buffer) == handshake)
        #expect(buffer.readableBytes == 0)
    }

    @Test func partialHandshakeWaitsAndWrongProtocolFailsEarly() throws {
        var buffer = ByteBuffer(bytes: [19] + Array("BitTorrent".utf8))
        #expect(try Handshake.read(from: &buffer) == nil)
        #expect(buffer.readableBytes == 11)
        var http = ByteBuffer(bytes: Array("GET / HTTP/1.1".utf8))
        #expect(throws: PeerWireError(.notBitTorrent)) { try Handshake.read(from: &http) }
    }

    @Test func peerIDs() throws {
        var generator = SystemRandomNumberGenerator()
        let id = PeerID.shoal(version: (1, 2, 3), using: &generator)
        #expect(id.bytes.count == 20)
        #expect(id.description.hasPrefix("-SH1230-"))
        #expect(id.azureusClient == "SH 1.2.3.0")
        var other = SystemRandomNumberGenerator()
        #expect(PeerID.shoal(version: (0, 1, 0), using: &other).description.hasPrefix("-SH0100-"))
        #expect(PeerID(bytes: Array("-qB4650-abcdefghijkl".utf8))?.azureusClient == "qB 4.6.5.0")
        #expect(PeerID(bytes: [UInt8](repeating: 0, count: 20))?.azureusClient == nil)
        #expect(PeerID(bytes: [1, 2, 3]) == nil)
    }
}

@Suite struct ExtensionHandshakeTests {
    @Test func roundTrip() throws {
        let handshake = ExtensionHandshake(messages: ["ut_metadata": 2, "ut_pex": 1], listenPort: 6881, client: "Shoal 0.1.0",
                                           yourIP: [127, 0, 0, 1], requestQueueLength: 500, metadataSize: 31_235)
        let parsed = try ExtensionHandshake(payload: ByteBuffer(bytes: handshake.encoded()))
        #expect(parsed == handshake)
    }

    @Test func libtorrentStyleHandshakeWithOddEntries() throws {
        // Wrong types and out-of-range values are ignored rather than fatal.
        let payload = "d1:md11:ut_metadatai3e6:ut_pexi1e4:oddsi999ee1:pi70000e1:v13:libtorrent/2.6:yourip3:abc4:reqqi250ee"
        let parsed = try ExtensionHandshake(payload: ByteBuffer(bytes: Array(payload.utf8)))
        #expect(parsed.messages == ["ut_metadata": 3, "ut_pex": 1])
        #expect(parsed.listenPort == nil)
        #expect(parsed.client == "libtorrent/2.")
        #expect(parsed.yourIP == nil)
        #expect(parsed.requestQueueLength == 250)
    }

    @Test func garbageIsAnError() {
        #expect(throws: PeerWireError.self) { try ExtensionHandshake(payload: ByteBuffer(bytes: Array("le".utf8))) }
        #expect(throws: PeerWireError.self) { try ExtensionHandshake(payload: ByteBuffer(bytes: [0xff, 0x00])) }
        let deep = String(repeating: "l", count: 50) + String(repeating: "e", count: 50)
        #expect(throws: PeerWireError.self) { try ExtensionHandshake(payload: ByteBuffer(bytes: Array(deep.utf8))) }
    }
}
