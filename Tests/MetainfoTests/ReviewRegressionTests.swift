import Bencode
@testable import Metainfo
import Testing

/// Regressions for what the first code review of the loader found.
@Suite struct ReviewRegressionTests {
    /// A v1 single-file info dictionary of `length` bytes in pieces of 16 KiB, with extra keys spliced in.
    static func v1Info(length: Int, extra: BencodeDictionary = [:]) -> BencodeDictionary {
        var info: BencodeDictionary = ["name": .text("f"), "piece length": .integer(16_384), "length": .integer(Int64(length))]
        info["pieces"] = .string([UInt8](repeating: 7, count: 20 * ((length + 16_383) / 16_384)))
        for entry in extra.entries { info[entry.key] = entry.value }
        return info
    }

    @Test("Optional keys of the wrong type are ignored, as libtorrent does; private is any non-zero integer")
    func optionalKeysOfTheWrongTypeAreIgnored() throws {
        let info = Self.v1Info(length: 100, extra: ["private": .integer(2), "source": .integer(5), "attr": .list([])])
        let outer: BencodeDictionary = ["info": .dictionary(info), "comment": .integer(1), "created by": .list([]),
                                        "creation date": .text("yesterday"), "announce-list": .text("x"),
                                        "announce": .text("http://127.0.0.1/a")]
        let torrent = try Metainfo(bytes: BencodeValue.dictionary(outer).encoded())
        #expect(torrent.info.isPrivate)
        #expect(torrent.info.source == nil)
        #expect(torrent.comment == nil && torrent.createdBy == nil && torrent.creationDate == nil)
        #expect(torrent.trackers == [["http://127.0.0.1/a"]])
    }

    @Test("A hybrid whose v1 padding adds a whole piece is refused: the two halves must agree on the piece count")
    func hybridTrailingPaddingMayNotAddAPiece() throws {
        let data = [UInt8](repeating: 1, count: 100)
        let root = MerkleTree.subtreeRoot(leaves: [SHA256Hash.of(data)], width: 1)
        var info: BencodeDictionary = ["name": .text("d"), "piece length": .integer(16_384), "meta version": .integer(2)]
        info["file tree"] = .dictionary(["a": .dictionary(["": .dictionary(["length": .integer(100), "pieces root": .string(root.bytes)])])])
        info["files"] = .list([
            .dictionary(["length": .integer(100), "path": .list([.text("a")])]),
            .dictionary(["length": .integer(16_384 - 100 + 16_384), "path": .list([.text(".pad"), .text("x")]), "attr": .text("p")]),
        ])
        info["pieces"] = .string([UInt8](repeating: 0, count: 40))
        #expect(throws: MetainfoError.self) { try TorrentInfo(bytes: BencodeValue.dictionary(info).encoded()) }
    }

    @Test func aDraftWithTooManyPiecesIsRefusedBeforeHashing() {
        let huge = TorrentDraft.SourceFile(path: ["big"], length: Int64(TorrentInfo.Limits.maxPieceCount + 1) * 16_384)
        #expect(throws: MetainfoError.self) {
            try TorrentDraft(name: "big", isSingleFile: true, files: [huge], pieceLength: 16_384, version: .v1)
        }
    }

    @Test("so ranges reaching past 32 bits are refused instead of trapping when the link is written")
    func hugeSelectOnlyRangesAreRefused() throws {
        let hash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
        #expect(throws: MagnetError.self) { try MagnetLink(parsing: "magnet:?xt=urn:btih:\(hash)&so=0-9223372036854775807") }
        let link = try MagnetLink(parsing: "magnet:?xt=urn:btih:\(hash)&so=0-2147483647,5")
        #expect(link.description.hasSuffix("so=0-2147483647,5"))
    }

    @Test("A v2 file tree cannot mark a real file as padding")
    func paddingAttributeInAFileTreeIsIgnored() throws {
        let data = [UInt8](repeating: 1, count: 100)
        let root = MerkleTree.subtreeRoot(leaves: [SHA256Hash.of(data)], width: 1)
        var info: BencodeDictionary = ["name": .text("a"), "piece length": .integer(16_384), "meta version": .integer(2)]
        info["file tree"] = .dictionary(["a": .dictionary(["": .dictionary(["length": .integer(100), "pieces root": .string(root.bytes),
                                                                          "attr": .text("px")])])])
        let parsed = try TorrentInfo(bytes: BencodeValue.dictionary(info).encoded())
        #expect(parsed.files.map(\.isPadding) == [false])
        #expect(parsed.files[0].attributes == .executable)
    }
}
