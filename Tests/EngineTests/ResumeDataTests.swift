@testable import Engine
import Metainfo
import Storage
import Testing

@Suite struct ResumeDataTests {
    /// Three files of 40,000, 20,000 and 30,000 bytes in pieces of 16 KiB: 6 pieces, file 1 spans pieces 2 and 3.
    static let torrent: TorrentInfo = {
        let pieces = [UInt8](repeating: 9, count: 6 * 20)
        let text = "d5:filesld6:lengthi40000e4:pathl1:aeed6:lengthi20000e4:pathl1:beed6:lengthi30000e4:pathl1:ceee"
            + "4:name1:t12:piece lengthi16384e6:pieces120:"
        return try! TorrentInfo(bytes: Array(text.utf8) + pieces + Array("e".utf8))
    }()

    static func stamps(_ modified: [Int64]) -> [FileStamp?] {
        zip([40_000, 20_000, 30_000] as [Int64], modified).map { FileStamp(size: $0, modified: $1) }
    }

    @Test func roundTripAndTrust() throws {
        var verified = Bitfield(count: 6)
        for i in [0, 1, 2, 3, 5] { verified[PieceIndex(i)] = true }
        let data = ResumeData(infoHash: Self.torrent.infoHashes.wire!, pieces: verified, files: Self.stamps([1, 2, 3]))
        let loaded = try ResumeData(bytes: data.encoded(), for: Self.torrent)
        #expect(loaded == data)

        let layout = StorageLayout(Self.torrent)
        #expect(loaded.trustedPieces(layout: layout, current: Self.stamps([1, 2, 3])) == verified)
        // File b changed while Shoal was away: the pieces it touches (2 and 3) must be checked again.
        let trusted = loaded.trustedPieces(layout: layout, current: Self.stamps([1, 99, 3]))
        #expect((0..<6).filter { trusted[PieceIndex($0)] } == [0, 1, 5])
        // A file gone: nothing of it is trusted.
        let gone = loaded.trustedPieces(layout: layout, current: [Self.stamps([1, 2, 3])[0], nil, Self.stamps([1, 2, 3])[2]])
        #expect((0..<6).filter { gone[PieceIndex($0)] } == [0, 1, 5])
    }

    @Test func resumeDataForAnotherTorrentOrMalformedIsRefused() {
        let other = ResumeData(infoHash: SHA1Hash(bytes: [UInt8](repeating: 1, count: 20))!, pieces: Bitfield(count: 6),
                               files: Self.stamps([1, 2, 3]))
        #expect(throws: ResumeData.Invalid.self) { try ResumeData(bytes: other.encoded(), for: Self.torrent) }
        let wrongCount = ResumeData(infoHash: Self.torrent.infoHashes.wire!, pieces: Bitfield(count: 7), files: Self.stamps([1, 2, 3]))
        #expect(throws: ResumeData.Invalid.self) { try ResumeData(bytes: wrongCount.encoded(), for: Self.torrent) }
        #expect(throws: ResumeData.Invalid.self) { try ResumeData(bytes: Array("garbage".utf8), for: Self.torrent) }
        let fewerFiles = ResumeData(infoHash: Self.torrent.infoHashes.wire!, pieces: Bitfield(count: 6), files: Self.stamps([1, 2]))
        #expect(throws: ResumeData.Invalid.self) { try ResumeData(bytes: fewerFiles.encoded(), for: Self.torrent) }
    }
}
