import Metainfo
import NIOCore
import Storage
import Synchronization

/// One piece being received: its bytes gather in memory and are hashed and written once, when the last
/// block lands, so nothing unverified reaches the files and no piece is read back to be hashed.
///
/// Unchecked Sendable: it is only touched under the torrent's lock until complete, and then by the one task
/// that took it out to verify it; no two threads ever use it at once.
final class PieceBuffer: @unchecked Sendable {
    let piece: PieceIndex
    let bytes: UnsafeMutableRawBufferPointer
    private var received: [Bool]
    private(set) var missing: Int
    /// The connections that sent its blocks, for blame if it fails.
    private(set) var senders: Set<Int> = []

    init(piece: PieceIndex, size: Int) {
        self.piece = piece
        bytes = .allocate(byteCount: size, alignment: 64)
        let blocks = (size + BlockRequest.standardLength - 1) / BlockRequest.standardLength
        received = [Bool](repeating: false, count: blocks)
        missing = blocks
    }

    deinit { bytes.deallocate() }

    /// Copies a block in; false if it was already here (a duplicate from endgame) or does not fit.
    func add(offset: Int, data: ByteBuffer, from peer: Int) -> Bool {
        let index = offset / BlockRequest.standardLength
        guard offset % BlockRequest.standardLength == 0, received.indices.contains(index), !received[index],
              offset + data.readableBytes <= bytes.count else { return false }
        data.withUnsafeReadableBytes { source in
            (bytes.baseAddress! + offset).copyMemory(from: source.baseAddress!, byteCount: source.count)
        }
        received[index] = true
        missing -= 1
        senders.insert(peer)
        return true
    }
}

/// Pieces recently served, kept whole so that a peer's run of requests costs one disk read per piece.
/// Bounded by ``capacity`` bytes; the least recently used piece goes first.
final class ReadCache: Sendable {
    private struct State {
        var pieces: [PieceIndex: ByteBuffer] = [:]
        var order: [PieceIndex] = []
        var bytes = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// The bytes of `block`, from memory or read with its whole piece; nil if they are not all on disk.
    func block(_ block: BlockRequest, from storage: PieceStorage) throws(StorageError) -> ByteBuffer? {
        let cached: ByteBuffer? = state.withLock { state in
            guard let piece = state.pieces[block.piece] else { return nil }
            if state.order.last != block.piece, let index = state.order.firstIndex(of: block.piece) {
                state.order.remove(at: index)
                state.order.append(block.piece)
            }
            return piece
        }
        let piece: ByteBuffer
        if let cached {
            piece = cached
        } else {
            guard let read = try Self.read(block.piece, from: storage) else { return nil }
            piece = read
            insert(block.piece, read)
        }
        return piece.getSlice(at: piece.readerIndex + block.offset, length: block.length)
    }

    private func insert(_ index: PieceIndex, _ piece: ByteBuffer) {
        state.withLock { state in
            guard state.pieces[index] == nil, piece.readableBytes <= capacity else { return }
            state.pieces[index] = piece
            state.order.append(index)
            state.bytes += piece.readableBytes
            while state.bytes > capacity, !state.order.isEmpty {
                let oldest = state.order.removeFirst()
                state.bytes -= state.pieces.removeValue(forKey: oldest)?.readableBytes ?? 0
            }
        }
    }

    private static func read(_ piece: PieceIndex, from storage: PieceStorage) throws(StorageError) -> ByteBuffer? {
        let range = storage.layout.range(of: piece)
        let size = Int(range.count)
        var buffer = ByteBuffer()
        var complete = false
        try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { target throws(StorageError) -> Int in
            complete = try storage.read(range, into: UnsafeMutableRawBufferPointer(rebasing: target[..<size]))
            return size
        }
        return complete ? buffer : nil
    }
}
