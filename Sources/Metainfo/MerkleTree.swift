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
