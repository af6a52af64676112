@testable import Engine
import Foundation
import Metainfo
import PeerWire
import Storage
import Testing

/// A seeding torrent's answers to BEP 52 hash requests, at the block layer, the piece layer and between.
@Suite struct HashAnswerTests {
    /// A v2 torrent of one 1,000,000-byte file (62 blocks, so 64 leaves) in 64 KiB pieces (4 blocks), added
    /// to a session with `verified` pieces.
    static func torrent(verifiedAll: Bool) async throws -> (Torrent, SHA256Hash, String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-hashes-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/f.bin"
        try Data((0..<1_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 12) }).write(to: URL(fileURLWithPath: path))
        var options = TorrentCreator.Options()
        options.version = .v2
        options.pieceLength = 64 << 10
        let metainfo = try await TorrentCreator(options: options).create(try TorrentCreator.list(path: path))
        let storage = PieceStorage(layout: StorageLayout(metainfo.info), backend: FileStorage(root: folder, files: metainfo.info.files))
        var verified = Bitfield(count: metainfo.info.pieceCount)
        if verifiedAll { for index in 0..<verified.count { verified[PieceIndex(index)] = true } }
        let torrent = try Session(settings: SessionSettings()).add(metainfo, storage: storage, verified: verified)
        return (torrent, try #require(metainfo.info.files[0].piecesRoot), folder)
    }

    @Test("Answers at every layer prove themselves against the file's root",
          arguments: [(0, 0, 4), (0, 60, 4), (0, 32, 2), (1, 8, 2), (2, 0, 16), (2, 12, 4), (3, 4, 2)])
    func answersProveTheRoot(base: Int, index: Int, count: Int) async throws {
        let (torrent, root, folder) = try await Self.torrent(verifiedAll: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // Proof up to the layer below the root: 6 layers above the leaves in all.
        let request = HashRequest(piecesRoot: root, baseLayer: UInt32(base), index: UInt32(index), length: UInt32(count),
                                  proofLayers: UInt32(5 - base))
        guard case .hashes(let echoed, let hashes) = torrent.answer(request) else {
            Issue.record("refused \(request)")
            return
        }
        #expect(echoed == request)
        #expect(MerkleTree.root(proving: hashes, index: index, count: count) == root)
        if base == 0, index == 60 { #expect(hashes[2] == .zero && hashes[3] == .zero, "leaves past the end are zero") }
        #expect(torrent.stats.hashRequestsAnswered == 1)
    }

    @Test("A request for more than a piece's block hashes is refused: it would cost more disk reads than a block")
    func blockRequestsAreCappedAtAPiece() async throws {
        let (torrent, root, folder) = try await Self.torrent(verifiedAll: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let wide = HashRequest(piecesRoot: root, baseLayer: 0, index: 0, length: 32, proofLayers: 0)
        #expect(torrent.answer(wide) == .hashReject(wide))
        let onePiece = HashRequest(piecesRoot: root, baseLayer: 0, index: 4, length: 4, proofLayers: 0)
        #expect(torrent.answer(onePiece) != .hashReject(onePiece))
    }

    @Test("Block hashes of unverified pieces are refused; piece-layer hashes come from the torrent file")
    func unverifiedBlocksAreRefused() async throws {
        let (torrent, root, folder) = try await Self.torrent(verifiedAll: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let blocks = HashRequest(piecesRoot: root, baseLayer: 0, index: 0, length: 4, proofLayers: 5)
        #expect(torrent.answer(blocks) == .hashReject(blocks))
        let pieces = HashRequest(piecesRoot: root, baseLayer: 2, index: 0, length: 16, proofLayers: 0)
        guard case .hashes(_, let hashes) = torrent.answer(pieces) else {
            Issue.record("piece layer refused")
            return
        }
        #expect(MerkleTree.root(proving: hashes, index: 0, count: 16) == root)
        let stranger = HashRequest(piecesRoot: .zero, baseLayer: 2, index: 0, length: 16, proofLayers: 0)
        #expect(torrent.answer(stranger) == .hashReject(stranger))
        #expect(torrent.stats.hashRequestsRefused == 2)
    }
}
