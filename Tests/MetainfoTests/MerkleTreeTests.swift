import Testing
import Metainfo

@Suite("MerkleTree")
struct MerkleTreeTests {
    /// Distinct stand-in leaf hashes.
    let leaves = (0..<9).map { SHA256Hash.of([UInt8(truncatingIfNeeded: $0), 0x5a]) }

    /// SHA-256 over two digests side by side, spelled out without `pair`.
    func node(_ left: SHA256Hash, _ right: SHA256Hash) -> SHA256Hash {
        SHA256Hash.of(left.bytes + right.bytes)
    }

    @Test func pairHashesBothDigestsInOrder() {
        let (a, b) = (leaves[0], leaves[1])
        #expect(SHA256Hash.pair(a, b) == node(a, b))
        #expect(SHA256Hash.pair(a, b) != SHA256Hash.pair(b, a))
    }

    @Test func zeroSubtrees() {
        #expect(MerkleTree.zeroSubtree(leafCount: 1) == .zero)
        #expect(SHA256Hash.zero.bytes == [UInt8](repeating: 0, count: 32))
        // SHA-256 of 64 zero bytes, and of two of those side by side.
        #expect(MerkleTree.zeroSubtree(leafCount: 2).hex == "f5a5fd42d16a20302798ef6ed309979b43003d2320d9f0e8ea9831a92759fb4b")
        #expect(MerkleTree.zeroSubtree(leafCount: 4).hex == "db56114e00fdd4c1f85c892bf35ac9a89289aaecb1ebd0a96cde606a748b5d71")
        #expect(MerkleTree.zeroSubtree(leafCount: 2) == SHA256Hash.of([UInt8](repeating: 0, count: 64)))
        #expect(MerkleTree.zeroSubtree(leafCount: 8) == MerkleTree.root(of: [SHA256Hash](repeating: .zero, count: 8)))
        #expect(MerkleTree.zeroSubtree(leafCount: 1024) == node(MerkleTree.zeroSubtree(leafCount: 512), MerkleTree.zeroSubtree(leafCount: 512)))
    }

    @Test func smallTreesByHand() {
        let (a, b, c, d, e) = (leaves[0], leaves[1], leaves[2], leaves[3], leaves[4])
        let zero = SHA256Hash.zero
        #expect(MerkleTree.root(of: []) == .zero)
        #expect(MerkleTree.root(of: [a]) == a)
        #expect(MerkleTree.root(of: [a, b]) == node(a, b))
        // Three leaves are padded with a zero leaf to four.
        #expect(MerkleTree.root(of: [a, b, c]) == node(node(a, b), node(c, zero)))
        #expect(MerkleTree.root(of: [a, b, c, d]) == node(node(a, b), node(c, d)))
        // Five leaves are padded to eight.
        let right = node(node(e, zero), node(zero, zero))
        #expect(MerkleTree.root(of: [a, b, c, d, e]) == node(node(node(a, b), node(c, d)), right))
        // Order matters.
        #expect(MerkleTree.root(of: [b, a]) != MerkleTree.root(of: [a, b]))
    }

    @Test func customPadding() {
        let (a, b, c) = (leaves[0], leaves[1], leaves[2])
        let pad = leaves[8]
        #expect(MerkleTree.root(of: [], padding: pad) == pad)
        #expect(MerkleTree.root(of: [a], padding: pad) == a)
        #expect(MerkleTree.root(of: [a, b, c], padding: pad) == node(node(a, b), node(c, pad)))
    }

    @Test func subtreeRoots() {
        let (a, b, c) = (leaves[0], leaves[1], leaves[2])
        let zero = SHA256Hash.zero
        #expect(MerkleTree.subtreeRoot(leaves: [a], width: 1) == a)
        #expect(MerkleTree.subtreeRoot(leaves: [a], width: 2) == node(a, zero))
        #expect(MerkleTree.subtreeRoot(leaves: [a], width: 4) == node(node(a, zero), node(zero, zero)))
        #expect(MerkleTree.subtreeRoot(leaves: [a, b, c], width: 4) == node(node(a, b), node(c, zero)))
        #expect(MerkleTree.subtreeRoot(leaves: [], width: 4) == MerkleTree.zeroSubtree(leafCount: 4))
    }


    /// The root computed from a piece layer equals the root computed from all the leaves.
    @Test(arguments: [(1, 16_384), (2, 32_768), (3, 32_768), (5, 32_768), (4, 65_536), (9, 65_536), (5, 16_384), (9, 131_072)])
    func rootFromPieceLayer(leafCount: Int, pieceLength: Int) {
        let fileLeaves = Array(leaves[..<leafCount])
        let perPiece = pieceLength / MerkleTree.blockSize
        let layer = stride(from: 0, to: leafCount, by: perPiece).map { start -> SHA256Hash in
            MerkleTree.subtreeRoot(leaves: Array(fileLeaves[start..<min(start + perPiece, leafCount)]), width: perPiece)
        }
        #expect(MerkleTree.root(pieceLayer: layer, pieceLength: pieceLength) == MerkleTree.root(of: fileLeaves))
    }

    @Test func pieceLayerByHand() {
        // Five leaves in pieces of two leaves: three pieces, padded to four with a zero subtree of two leaves.
        let (a, b, c, d, e) = (leaves[0], leaves[1], leaves[2], leaves[3], leaves[4])
        let zero = SHA256Hash.zero
        let layer = [node(a, b), node(c, d), node(e, zero)]
        let zeroPiece = node(zero, zero)
        #expect(MerkleTree.root(pieceLayer: layer, pieceLength: 32_768) == node(node(layer[0], layer[1]), node(layer[2], zeroPiece)))
        // Padding the layer with plain zero hashes instead would give another root.
        #expect(MerkleTree.root(pieceLayer: layer, pieceLength: 32_768) != MerkleTree.root(of: layer))
    }

    @Test func fileRootsFromData() {
        // A file of one block: the root is the block's hash. Of two blocks: the pair, the last block hashed short.
        let small = sampleBytes(count: 100, seed: 4)
        #expect(Hashing.merkle(small, pieceLength: 16_384).root == SHA256Hash.of(small))
        let two = sampleBytes(count: 20_000, seed: 5)
        let first = SHA256Hash.of(Array(two[..<16_384]))
        let second = SHA256Hash.of(Array(two[16_384...]))
        #expect(Hashing.merkle(two, pieceLength: 16_384).root == node(first, second))
        #expect(Hashing.merkle(two, pieceLength: 16_384).pieceLayer == [first, second])
        #expect(Hashing.merkle(two, pieceLength: 32_768).pieceLayer == [node(first, second)])
    }
}
