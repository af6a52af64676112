import Dispatch
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
    /// The connections that sent its blocks, by id, for blame if it fails (even after they closed).
    private(set) var senders: [Int: PeerHandle] = [:]

    init(piece: PieceIndex, size: Int) {
        self.piece = piece
        bytes = .allocate(byteCount: size, alignment: 64)
        let blocks = (size + BlockRequest.standardLength - 1) / BlockRequest.standardLength
        received = [Bool](repeating: false, count: blocks)
        missing = blocks
    }

    deinit { bytes.deallocate() }

    /// Copies a block in; false if it was already here (a duplicate from endgame) or does not fit.
    func add(offset: Int, data: ByteBuffer, from peer: PeerHandle) -> Bool {
        let index = offset / BlockRequest.standardLength
        guard offset % BlockRequest.standardLength == 0, received.indices.contains(index), !received[index],
              offset + data.readableBytes <= bytes.count else { return false }
        data.withUnsafeReadableBytes { source in
            (bytes.baseAddress! + offset).copyMemory(from: source.baseAddress!, byteCount: source.count)
        }
        received[index] = true
        missing -= 1
        senders[peer.id] = peer
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

/// Hashes and writes completed pieces on a queue of its own, so a connection's task goes back to its socket
/// at once and receiving overlaps hashing and writing. Bounded: while more than ``limit`` bytes wait, the
/// connections wait too, so a disk slower than the network holds peers back instead of filling memory.
final class PieceFinisher: Sendable {
    private struct State {
        var pendingBytes = 0
        /// Tasks waiting for the pending bytes to fall to their threshold.
        var waiters: [(threshold: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    let limit: Int
    private let queue = DispatchQueue(label: "shoal.piece-finisher", qos: .userInitiated)
    private let state = Mutex(State())

    init(limit: Int = 16 << 20) { self.limit = limit }

    /// Runs `work` on the piece, in order with the pieces submitted before it.
    func submit(_ piece: PieceBuffer, _ work: @escaping @Sendable (PieceBuffer) -> Void) {
        let size = piece.bytes.count
        state.withLock { $0.pendingBytes += size }
        queue.async { [self] in
            work(piece)
            let ready = state.withLock { state in
                state.pendingBytes -= size
                let pending = state.pendingBytes
                defer { state.waiters.removeAll { pending <= $0.threshold } }
                return state.waiters.filter { pending <= $0.threshold }
            }
            for waiter in ready { waiter.continuation.resume() }
        }
    }

    /// Waits while more than `threshold` bytes wait to be finished (``limit`` by default; 0 waits for all).
    func wait(below threshold: Int? = nil) async {
        let threshold = threshold ?? limit
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                guard state.pendingBytes > threshold else { return true }
                state.waiters.append((threshold, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}
