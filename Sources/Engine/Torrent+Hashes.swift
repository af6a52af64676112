import Metainfo
import PeerWire
import Storage

extension Torrent {
    /// The answer to a peer's BEP 52 hash request: the hashes, with their proof, or a hash reject when the
    /// request does not fit the file's tree or needs blocks we have not verified. Layers from the piece layer
    /// up come from the torrent file; hashes below it are computed from the verified data on disk (at most a
    /// piece's worth for the proof, plus at most a piece's worth of requested blocks).
    func answer(_ request: HashRequest) -> PeerMessage {
        let message = hashes(for: request)
        core.withLock { core in
            if case .hashes = message { core.hashRequestsAnswered += 1 } else { core.hashRequestsRefused += 1 }
        }
        return message
    }

    private func hashes(for request: HashRequest) -> PeerMessage {
        guard let tree = FileTree(torrent: self, root: request.piecesRoot) else { return .hashReject(request) }
        // Block hashes cost disk reads: no more than a piece's blocks per request (libtorrent asks for one
        // piece's at a time), so 48 bytes from a peer cannot make us read 8 MiB.
        if request.baseLayer < tree.pieceHeight, Int(request.length) > max(2, 1 << tree.pieceHeight) >> Int(request.baseLayer) {
            return .hashReject(request)
        }
        let hashes = MerkleTree.hashes(treeHeight: tree.height, layer: Int(request.baseLayer), index: Int(request.index),
                                       count: Int(request.length), proofLayers: Int(request.proofLayers), node: tree.node)
        return hashes.map { .hashes(request, $0) } ?? .hashReject(request)
    }

    /// The tree of the file with this root from its piece layer up; nil where the file has no piece layer.
    fileprivate func layers(of root: SHA256Hash) -> [[SHA256Hash]]? {
        if let built = hashLayers.withLock({ $0[root] }) { return built }
        guard let pieceLayer = metainfo.pieceLayers[root] else { return nil }
        let built = MerkleTree.layers(pieceLayer: pieceLayer, pieceLength: metainfo.info.pieceLength)
        hashLayers.withLock { $0[root] = built }
        return built
    }
}

/// One v2 file's merkle tree as far as this torrent can give it: nodes at or above the piece layer from the
/// torrent's piece layers, nodes below from the file's verified blocks.
private struct FileTree {
    let torrent: Torrent
    let file: FileEntry
    let blocks: Int
    /// Leaves, a power of two.
    let leafCount: Int
    let pieceHeight: Int
    let upperLayers: [[SHA256Hash]]?

    init?(torrent: Torrent, root: SHA256Hash) {
        guard let file = torrent.metainfo.info.files.first(where: { $0.piecesRoot == root && $0.length > 0 }) else { return nil }
        self.torrent = torrent
        self.file = file
        blocks = Int((file.length + Int64(MerkleTree.blockSize) - 1) / Int64(MerkleTree.blockSize))
        var width = 1
        while width < blocks { width <<= 1 }
        leafCount = width
        pieceHeight = (torrent.metainfo.info.pieceLength / MerkleTree.blockSize).trailingZeroBitCount
        upperLayers = torrent.layers(of: root)
    }

    /// Layers above the leaves (the root's height).
    var height: Int { leafCount.trailingZeroBitCount }

    func width(at height: Int) -> Int { leafCount >> height }

    /// The node `height` layers above the leaves at `position`; nil if it needs blocks not verified yet.
    func node(height: Int, position: Int) -> SHA256Hash? {
        guard height <= self.height, position >= 0, position < width(at: height) else { return nil }
        if let upperLayers, height >= pieceHeight { return upperLayers[height - pieceHeight][position] }
        let first = position << height
        let span = 1 << height
        guard first < blocks else { return MerkleTree.zeroSubtree(leafCount: span) }
        var leaves: [SHA256Hash] = []
        for block in first..<min(blocks, first + span) {
            guard let leaf = leaf(block) else { return nil }
            leaves.append(leaf)
        }
        return MerkleTree.subtreeRoot(leaves: leaves, width: span)
    }

    /// The hash of one 16 KiB block of the file (shorter at its end), read from disk if its piece is verified.
    private func leaf(_ block: Int) -> SHA256Hash? {
        let start = file.offset + Int64(block * MerkleTree.blockSize)
        let end = min(file.end, start + Int64(MerkleTree.blockSize))
        let piece = PieceIndex(Int(start / Int64(torrent.metainfo.info.pieceLength)))
        guard torrent.core.withLock({ $0.picker.has(piece) }) else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(end - start))
        let complete = bytes.withUnsafeMutableBytes { buffer in (try? torrent.storage.read(start..<end, into: buffer)) ?? false }
        return complete ? SHA256Hash.of(bytes) : nil
    }
}
