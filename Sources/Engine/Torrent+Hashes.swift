import Metainfo
import PeerWire

extension Torrent {
    /// The answer to a peer's BEP 52 hash request: the hashes, with their proof, from the piece layers of the
    /// torrent file and the layers above them; a hash reject for anything else (block-layer hashes, which
    /// would mean hashing data from disk, or a request that does not fit the file's tree).
    func answer(_ request: HashRequest) -> PeerMessage {
        let message = hashes(for: request)
        core.withLock { core in
            if case .hashes = message { core.hashRequestsAnswered += 1 } else { core.hashRequestsRefused += 1 }
        }
        return message
    }

    private func hashes(for request: HashRequest) -> PeerMessage {
        let pieceHeight = (metainfo.info.pieceLength / MerkleTree.blockSize).trailingZeroBitCount
        guard Int(request.baseLayer) >= pieceHeight, let layers = layers(of: request.piecesRoot),
              let hashes = MerkleTree.hashes(layers: layers, layer: Int(request.baseLayer) - pieceHeight,
                                             index: Int(request.index), count: Int(request.length),
                                             proofLayers: Int(request.proofLayers)) else {
            return .hashReject(request)
        }
        return .hashes(request, hashes)
    }

    /// The tree of the file with this root from its piece layer up; nil for files no larger than a piece
    /// (they have no piece layer) and roots that are not this torrent's.
    private func layers(of root: SHA256Hash) -> [[SHA256Hash]]? {
        if let built = hashLayers.withLock({ $0[root] }) { return built }
        guard let pieceLayer = metainfo.pieceLayers[root] else { return nil }
        let built = MerkleTree.layers(pieceLayer: pieceLayer, pieceLength: metainfo.info.pieceLength)
        hashLayers.withLock { $0[root] = built }
        return built
    }
}
