/// The SHA-256 merkle trees of BEP 52: one per file, over 16 KiB blocks, with a branching factor of 2.
///
/// Leaves beyond the end of a file are zero hashes; a tree always has a power of two leaves.
public enum MerkleTree {
    /// The size of a leaf block: 16 KiB.
    public static let blockSize = 16 * 1024

    /// The root of the tree whose lowest layer is `layer`, padded on the right to a power of two entries with
    /// `padding` (the hash of an all-zero subtree of that layer's height).
    public static func root(of layer: [SHA256Hash], padding: SHA256Hash = .zero) -> SHA256Hash {
        guard !layer.isEmpty else { return padding }
        var current = layer
        var pad = padding
        var width = 1
        while width < current.count { width <<= 1 }
        current.reserveCapacity(width)
        while current.count < width { current.append(pad) }
        while current.count > 1 {
            var next: [SHA256Hash] = []
            next.reserveCapacity(current.count / 2)
            var i = 0
            while i < current.count {
                next.append(SHA256Hash.pair(current[i], current[i + 1]))
                i += 2
            }
            current = next
            pad = SHA256Hash.pair(pad, pad)
        }
        return current[0]
    }

    /// The root of a subtree of exactly `width` leaves (a power of two), the given leaves followed by zero leaves.
    public static func subtreeRoot(leaves: [SHA256Hash], width: Int) -> SHA256Hash {
        var padded = leaves
        if padded.count < width { padded += [SHA256Hash](repeating: .zero, count: width - padded.count) }
        return root(of: padded)
    }

    /// The hash of a subtree of `leafCount` zero leaves (a power of two): what pads a piece layer.
    public static func zeroSubtree(leafCount: Int) -> SHA256Hash {
        var hash = SHA256Hash.zero
        var width = 1
        while width < leafCount {
            hash = .pair(hash, hash)
            width <<= 1
        }
        return hash
    }

    /// The root of a file's tree computed from its piece layer (one hash per `pieceLength` bytes).
    public static func root(pieceLayer: [SHA256Hash], pieceLength: Int) -> SHA256Hash {
        root(of: pieceLayer, padding: zeroSubtree(leafCount: pieceLength / blockSize))
    }
}

extension MerkleTree {
    /// Every layer of a file's tree from its piece layer up to the root: `[0]` is the piece layer padded to a
    /// power of two with zero subtrees, the last is `[root]`. What a seeder answers BEP 52 hash requests from.
    public static func layers(pieceLayer: [SHA256Hash], pieceLength: Int) -> [[SHA256Hash]] {
        var pad = zeroSubtree(leafCount: pieceLength / blockSize)
        var current = pieceLayer
        var width = 1
        while width < current.count { width <<= 1 }
        current += [SHA256Hash](repeating: pad, count: width - current.count)
        var layers = [current]
        while current.count > 1 {
            current = stride(from: 0, to: current.count, by: 2).map { SHA256Hash.pair(current[$0], current[$0 + 1]) }
            pad = .pair(pad, pad)
            layers.append(current)
        }
        return layers
    }

    /// The hashes of a BEP 52 `hashes` message: `count` nodes of the layer `layer` levels above the leaves from
    /// `index`, then one uncle for each of `proofLayers` layers above that the requested nodes do not cover,
    /// nearest the leaves first. `node(height, position)` gives a node of the tree (`treeHeight` layers above
    /// its leaves), or nil where the caller cannot. Nil if any needed node is missing or the request does not
    /// fit: `count` not a power of two up to 512, `index` not a multiple of it or past the layer, or proof layers
    /// reaching the root (which has no sibling).
    public static func hashes(treeHeight: Int, layer: Int, index: Int, count: Int, proofLayers: Int,
                              node: (_ height: Int, _ position: Int) -> SHA256Hash?) -> [SHA256Hash]? {
        guard (0...treeHeight).contains(layer), count > 0, count <= 512, count & (count - 1) == 0, index >= 0,
              index % count == 0, index + count <= 1 << (treeHeight - layer), proofLayers >= 0,
              proofLayers == 0 || layer + proofLayers < treeHeight else { return nil }
        var result: [SHA256Hash] = []
        for position in index..<(index + count) {
            guard let hash = node(layer, position) else { return nil }
            result.append(hash)
        }
        // The first log2(count) - 1 proof layers lie inside the requested subtree: the receiver computes them.
        for step in 0..<proofLayers where step >= count.trailingZeroBitCount - 1 {
            guard let uncle = node(layer + step + 1, (index >> (step + 1)) ^ 1) else { return nil }
            result.append(uncle)
        }
        return result
    }

    /// The root that a BEP 52 answer proves: `count` nodes from `index` (a power of two and a multiple of it),
    /// then uncles nearest the leaves first. A receiver trusts the nodes only if this is the file's root.
    public static func root(proving hashes: [SHA256Hash], index: Int, count: Int) -> SHA256Hash? {
        guard count > 0, count & (count - 1) == 0, index % count == 0, hashes.count >= count else { return nil }
        var level = Array(hashes.prefix(count))
        while level.count > 1 {
            level = stride(from: 0, to: level.count, by: 2).map { SHA256Hash.pair(level[$0], level[$0 + 1]) }
        }
        var node = level[0]
        var position = index / count
        for uncle in hashes.dropFirst(count) {
            node = position.isMultiple(of: 2) ? .pair(node, uncle) : .pair(uncle, node)
            position /= 2
        }
        return node
    }
}
