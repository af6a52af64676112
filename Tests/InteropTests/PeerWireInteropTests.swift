import Foundation
import Shoal
import Testing

/// Shoal's wire layer against a real libtorrent seeder on loopback: handshake, bitfield or have-all,
/// interest, unchoke, requests and blocks that hash to the torrent's pieces.
@Suite(.serialized)
struct PeerWireInteropTests {
    @Test("Shoal downloads every piece of a v1 torrent from a libtorrent seeder over the peer wire protocol")
    func downloadPiecesFromLibtorrent() async throws {
        let folder = try TemporaryFolder()
        let payload = try folder.file("data/payload.bin", size: 100_000, seed: 11)
        let torrentFile = folder.url.appendingPathComponent("t.torrent")
        let created = try Tools.runShoal(["create", payload.path, "--v1", "--piece-size", "32k", "-o", torrentFile.path])
        #expect(created.status == 0, "\(created.stderr)")
        let torrent = try Metainfo(bytes: Array(try Data(contentsOf: torrentFile)))
        let info = torrent.info

        let seeder = try BackgroundTool(Tools.python, [Tools.ltTool, "seed", torrentFile.path, payload.deletingLastPathComponent().path])
        let line = try #require(seeder.firstLine(), "libtorrent seeder did not start")
        let port = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Int])?["port"])

        let ours = Handshake(extensions: [.fast, .extensionProtocol], infoHash: try #require(info.infoHashes.v1), peerID: .shoal())
        let pieces = try await withTimeout(seconds: 60) {
            let link = try await PeerConnector.connect(host: "127.0.0.1", port: port, handshake: ours)
            defer { link.close() }
            return try await Self.downloadAll(link, info: info)
        }
        #expect(pieces.count == info.pieceCount)
        for (index, bytes) in pieces.enumerated() {
            #expect(SHA1Hash.of(bytes) == info.v1Hash(of: PieceIndex(index)), "piece \(index) does not hash right")
        }
        #expect(pieces.flatMap { $0 } == Array(try Data(contentsOf: payload)))
    }

    /// Runs the protocol until every piece has arrived: interested, wait for unchoke, request every block.
    static func downloadAll(_ link: PeerLink, info: TorrentInfo) async throws -> [[UInt8]] {
        #expect(link.remote.peerID.azureusClient?.hasPrefix("LT") == true, "libtorrent names itself LT")
        let fast = link.remote.extensions.contains(.fast)
        var state = PeerConnectionState(pieceCount: info.pieceCount, pieceLength: info.pieceLength,
                                        totalSize: info.pieceSpaceSize, fastExtension: fast)
        let layout = StorageLayout(info)
        var pieces = (0..<info.pieceCount).map { [UInt8](repeating: 0, count: layout.size(of: PieceIndex($0))) }
        var missing = Set((0..<info.pieceCount).flatMap { layout.blocks(of: PieceIndex($0)) })
        var requested = false
        try await link.send([state.setInterested(true)].compactMap { $0 })
        while !missing.isEmpty {
            for event in try await link.receive().messages.flatMap({ try state.received($0) }) {
                switch event {
                case .unchoked where !requested:
                    requested = true
                    try await link.send(missing.sorted { ($0.piece, $0.offset) < ($1.piece, $1.offset) }.compactMap { state.request($0) })
                case .block(let block, let data):
                    pieces[block.piece.value].replaceSubrange(block.offset..<(block.offset + block.length), with: data.readableBytesView)
                    missing.remove(block)
                case .choked(let lost):
                    Issue.record("choked with \(lost.count) requests lost")
                    return pieces
                default:
                    continue
                }
            }
        }
        return pieces
    }
}

/// Runs `body`, failing if it takes longer than `seconds`.
func withTimeout<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw TimeoutError(seconds: seconds)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

struct TimeoutError: Error, CustomStringConvertible {
    let seconds: Double
    var description: String { "timed out after \(seconds) s" }
}
