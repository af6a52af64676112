import Foundation
import Metainfo
import Synchronization

/// The hashes of one piece as BEP 3 and BEP 52 define them.
struct PieceDigests {
    /// SHA-1 over the whole piece, padding included (v1 and hybrid).
    var v1: SHA1Hash?
    /// For v2: the root of the piece's subtree in its file's merkle tree, or, for a file of one piece, the
    /// file's root (whose tree is only as wide as the file needs).
    var v2: SHA256Hash?
}

extension StorageLayout {
    /// Hashes piece `index`, whose bytes (`size(of: index)` of them) are in `bytes`.
    func digests(of index: PieceIndex, bytes: UnsafeRawBufferPointer, v1: Bool, v2: Bool) -> PieceDigests {
        var result = PieceDigests()
        if v1 { result.v1 = SHA1Hash.of(bytes) }
        if v2, let location = v2Location(of: index) {
            let data = UnsafeRawBufferPointer(rebasing: bytes[..<location.dataLength])
            var leaves: [SHA256Hash] = []
            leaves.reserveCapacity((data.count + MerkleTree.blockSize - 1) / MerkleTree.blockSize)
            var start = 0
            while start < data.count {
                let end = min(start + MerkleTree.blockSize, data.count)
                leaves.append(SHA256Hash.of(UnsafeRawBufferPointer(rebasing: data[start..<end])))
                start = end
            }
            var width = 1
            if location.piecesInFile == 1 {
                while width < leaves.count { width <<= 1 }
            } else {
                width = pieceLength / MerkleTree.blockSize
            }
            result.v2 = MerkleTree.subtreeRoot(leaves: leaves, width: width)
        }
        return result
    }
}

/// Reads a torrent's pieces on worker threads, several pieces per read, and hands each to a visitor.
///
/// Hashing runs on threads of its own, not on Swift's cooperative pool or an event loop, so a long check
/// never starves other work. Each worker owns one read buffer for its whole run.
struct ParallelPieceReader: Sendable {
    let storage: PieceStorage
    let threads: Int
    /// Bytes read per batch (rounded to whole pieces, at least one).
    var batchBytes = 4 << 20
    /// The most memory all workers' buffers may take together.
    static let bufferBudget = 1 << 30

    /// Calls `visit(piece, bytes, complete)` for every piece, from several threads at once; `complete` is false
    /// when some of the piece's file bytes are missing. `progress` receives the number of bytes done so far.
    func forEachPiece(progress: (@Sendable (Int64) -> Void)?,
                      visit: @escaping @Sendable (PieceIndex, UnsafeRawBufferPointer, Bool) -> Void) async throws(StorageError) {
        let layout = storage.layout
        let piecesPerBatch = max(1, batchBytes / layout.pieceLength)
        let batches = (layout.pieceCount + piecesPerBatch - 1) / piecesPerBatch
        let shared = SharedProgress()
        let storage = self.storage
        // Huge pieces mean huge buffers: keep all workers' buffers within a budget, whatever the torrent says.
        let budgetThreads = max(1, Self.bufferBudget / (piecesPerBatch * layout.pieceLength))
        await runOnThreads(min(max(1, threads), max(1, batches), budgetThreads)) { _ in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: piecesPerBatch * layout.pieceLength, alignment: 64)
            defer { buffer.deallocate() }
            while shared.failure.withLock({ $0 == nil }) {
                let batch = shared.nextBatch.wrappingAdd(1, ordering: .relaxed).oldValue
                guard batch < batches else { break }
                let first = batch * piecesPerBatch
                let last = min(first + piecesPerBatch, layout.pieceCount) - 1
                let range = layout.range(of: PieceIndex(first)).lowerBound..<layout.range(of: PieceIndex(last)).upperBound
                do throws(StorageError) {
                    let target = UnsafeMutableRawBufferPointer(rebasing: buffer[..<Int(range.count)])
                    let complete = try storage.read(range, into: target)
                    for piece in first...last {
                        let pieceRange = layout.range(of: PieceIndex(piece))
                        let offset = Int(pieceRange.lowerBound - range.lowerBound)
                        let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + Int(pieceRange.count))])
                        // Only a batch with a hole pays for a second, per-piece read to find which pieces lack data.
                        let pieceComplete = complete ? true : try storage.read(pieceRange, into: slice)
                        visit(PieceIndex(piece), UnsafeRawBufferPointer(slice), pieceComplete)
                    }
                    let done = shared.bytesDone.wrappingAdd(Int64(range.count), ordering: .relaxed).newValue
                    progress?(done)
                } catch {
                    shared.failure.withLock { if $0 == nil { $0 = error } }
                }
            }
        }
        if let failure = shared.failure.withLock({ $0 }) { throw failure }
    }
}

/// State the workers of one run share.
private final class SharedProgress: Sendable {
    let nextBatch = Atomic<Int>(0)
    let bytesDone = Atomic<Int64>(0)
    let failure = Mutex<StorageError?>(nil)
}

/// Runs `count` copies of `body` (given their worker number) on threads of their own and waits for all.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let remaining = Countdown(count)
        for worker in 0..<count {
            let thread = Thread {
                body(worker)
                if remaining.finishOne() { continuation.resume() }
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }
}

private final class Countdown: Sendable {
    private let left: Atomic<Int>
    init(_ count: Int) { left = Atomic(count) }
    /// True for the caller that finishes the last one.
    func finishOne() -> Bool { left.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 }
}

/// The number of threads hashing uses by default: one per core.
public var defaultHashingThreads: Int { ProcessInfo.processInfo.activeProcessorCount }
