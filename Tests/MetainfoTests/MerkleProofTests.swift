import Metainfo
import Testing

/// BEP 52 hash answers: the requested hashes and the uncles that prove them against the file's root.
@Suite struct MerkleProofTests {
    /// A file of 13 pieces of 4 blocks (64 KiB): its piece layer and root.
    static let pieceLength = 4 * MerkleTree.blockSize
    static let pieceLayer = (0..<13).map { SHA256Hash.of([UInt8($0), 0xa5]) }
    static let root = MerkleTree.root(pieceLayer: pieceLayer, pieceLength: pieceLength)
    static let layers = MerkleTree.layers(pieceLayer: pieceLayer, pieceLength: pieceLength)

    /// The hashes for a request over the piece layer (layer 0 here), nodes taken from ``layers``.
    static func hashes(layer: Int = 0, index: Int, count: Int, proofLayers: Int) -> [SHA256Hash]? {
        MerkleTree.hashes(treeHeight: layers.count - 1, layer: layer, index: index, count: count, proofLayers: proofLayers) {
            layers[$0][$1]
        }
    }

    @Test func layersClimbToTheRoot() {
        #expect(Self.layers.map(\.count) == [16, 8, 4, 2, 1])
        #expect(Self.layers.last == [Self.root])
        #expect(Array(Self.layers[0].prefix(13)) == Self.pieceLayer)
        #expect(Self.layers[0][13] == MerkleTree.zeroSubtree(leafCount: 4), "padding is the zero subtree of a piece")
    }

    @Test("Hashes with every proof layer below the root prove the requested range",
          arguments: [(0, 2), (4, 4), (8, 8), (12, 4), (14, 2), (0, 16)])
    func proofsReachTheRoot(index: Int, count: Int) throws {
        let proofLayers = Self.layers.count - 2
        let hashes = try #require(Self.hashes(index: index, count: count, proofLayers: proofLayers))
        #expect(Array(hashes.prefix(count)) == Array(Self.layers[0][index..<(index + count)]))
        // Uncles only for the layers above the range's own subtree: log2(count) - 1 of the proof layers are implied.
        #expect(hashes.count == count + max(0, proofLayers - (count.trailingZeroBitCount - 1)))
        #expect(MerkleTree.root(proving: hashes, index: index, count: count) == Self.root)
    }

    @Test func requestsThatDoNotFitAreRefused() {
        let refused: [(index: Int, count: Int, proof: Int)] = [
            (2, 4, 0),     // index not a multiple of the count
            (0, 3, 0),     // count not a power of two
            (16, 2, 0),    // past the layer
            (0, 1024, 0),  // more than 512
            (0, 2, 4),     // proof layers up to the root, which has no sibling
            (0, 2, -1),
        ]
        for request in refused {
            #expect(Self.hashes(index: request.index, count: request.count, proofLayers: request.proof) == nil, "\(request)")
        }
        #expect(Self.hashes(layer: 5, index: 0, count: 1, proofLayers: 0) == nil)
        #expect(Self.hashes(layer: 4, index: 0, count: 1, proofLayers: 0) == [Self.root], "the root alone, no proof")
    }
}
