import Bencode
import Metainfo
import Testing
@testable import PeerWire

@Suite struct MetadataExchangeTests {
    @Test("Messages are BEP 9's bytes and read back the same")
    func roundTrip() throws {
        #expect(MetadataMessage.request(piece: 0).encoded() == Array("d8:msg_typei0e5:piecei0ee".utf8))
        #expect(MetadataMessage.reject(piece: 3).encoded() == Array("d8:msg_typei2e5:piecei3ee".utf8))
        let data = MetadataMessage.data(piece: 1, totalSize: 16_384 + 5, payload: [1, 2, 3, 4, 5])
        #expect(data.encoded() == Array("d8:msg_typei1e5:piecei1e10:total_sizei16389ee".utf8) + [1, 2, 3, 4, 5])
        for message in [MetadataMessage.request(piece: 7), .reject(piece: 0), data] {
            #expect(try MetadataMessage(parsing: message.encoded()) == message)
        }
    }

    @Test("Unknown types are ignored; malformed messages and wrong lengths are errors", arguments: [
        "d8:msg_typei1e5:piecei0e10:total_sizei20eeshort",  // 5 bytes where 20 are due
        "d8:msg_typei1e5:piecei1e10:total_sizei20ee",  // a piece past the end
        "d8:msg_typei1e5:piecei0e10:total_sizei999999999ee",
        "d8:msg_typei0ee",
        "d5:piecei0ee",
        "li1ee",
        "d8:msg_typei0e5:piecei-1ee",
        "",
    ])
    func rejects(text: String) {
        #expect(throws: MetadataError.self) { try MetadataMessage(parsing: Array(text.utf8)) }
    }

    @Test("An unknown msg_type is ignored, as BEP 9 requires")
    func unknownType() throws {
        #expect(try MetadataMessage(parsing: Array("d8:msg_typei9e5:piecei0ee".utf8)) == nil)
    }

    @Test("Pieces gather into the info dictionary, checked against v1 and v2 hashes; a lie is found and dropped")
    func assembly() throws {
        let info = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let hashes = InfoHashes(v1: SHA1Hash.of(info), v2: SHA256Hash.of(info))
        var assembly = try MetadataAssembly(infoHashes: hashes, size: info.count)
        #expect(assembly.pieceCount == 3 && assembly.missing == [0, 1, 2])
        for piece in [2, 0, 1] {
            guard case .data(_, let total, let payload) = MetadataMessage.answer(piece, from: info) else { throw MetadataError.hashMismatch }
            #expect(total == info.count)
            try assembly.add(piece: piece, data: payload)
        }
        #expect(try assembly.finish() == info)
        #expect(MetadataMessage.answer(3, from: info) == .reject(piece: 3))

        var lied = try MetadataAssembly(infoHashes: hashes, size: info.count)
        for piece in 0..<3 {
            var payload = Array(info[(piece * 16_384)..<min(info.count, (piece + 1) * 16_384)])
            if piece == 1 { payload[0] ^= 1 }
            try lied.add(piece: piece, data: payload)
        }
        #expect(throws: MetadataError.hashMismatch) { try lied.finish() }
        #expect(lied.missing == [0, 1, 2])
        #expect(throws: MetadataError.self) { try lied.add(piece: 0, data: [1]) }
        #expect(throws: MetadataError.unacceptableSize(0)) { try MetadataAssembly(infoHashes: hashes, size: 0) }
        #expect(throws: MetadataError.self) { try MetadataAssembly(infoHashes: hashes, size: MetadataMessage.maxMetadataSize + 1) }
    }
}
