import Metainfo
@testable import Storage
import Testing

@Suite struct PieceHashingTests {
    /// Pieces of 16 bytes over A [0,40), B @40 (empty), C [40,65), D [65,95): 6 pieces, the last of 15 bytes.
    static let files = sequentialFiles([40, 0, 25, 30])
    static let layout = StorageLayout(files: files, pieceLength: 16, pieceSpaceSize: 95)
    static let a = patternBytes(40, seed: 20)
    static let c = patternBytes(25, seed: 21)
    static let d = patternBytes(30, seed: 22)

    struct ReaderCase: Sendable, CustomTestStringConvertible {
        var threads: Int
        var batchBytes: Int
        var testDescription: String { "\(threads) threads, batches of \(batchBytes) bytes" }
    }

    @Test(arguments: [ReaderCase(threads: 1, batchBytes: 4 << 20), ReaderCase(threads: 3, batchBytes: 48),
                      ReaderCase(threads: 4, batchBytes: 16), ReaderCase(threads: 2, batchBytes: 1)])
    func readerVisitsEveryPieceOnceWithItsBytes(_ setup: ReaderCase) async throws {
        // C is missing: pieces 2, 3 and 4 ([32,80)) lack some of their bytes.
        let storage = PieceStorage(layout: Self.layout, backend: MemoryStorage(files: [0: Self.a, 3: Self.d]))
        let reader = ParallelPieceReader(storage: storage, threads: setup.threads, batchBytes: setup.batchBytes)
        let log = VisitLog()
        let progress = ProgressRecorder()
        try await reader.forEachPiece(progress: { progress.record($0) }) { piece, bytes, complete in
            log.add(PieceVisit(piece: piece.value, bytes: Array(bytes), complete: complete))
        }
        let visits = log.all
        #expect(visits.map(\.piece) == Array(0..<6))
        #expect(visits.map(\.complete) == [true, true, false, false, false, true])
        let space = spaceBytes(Self.files, contents: [0: Self.a, 3: Self.d])
        for visit in visits {
            let range = Self.layout.range(of: PieceIndex(visit.piece))
            #expect(visit.bytes == Array(space[Int(range.lowerBound)..<Int(range.upperBound)]), "piece \(visit.piece)")
        }
        #expect(progress.maximum == 95)
        #expect(progress.calls >= 1)
    }

    @Test func readerWithEverythingPresentReportsEveryPieceComplete() async throws {
        let storage = PieceStorage(layout: Self.layout, backend: MemoryStorage(files: [0: Self.a, 2: Self.c, 3: Self.d]))
        let reader = ParallelPieceReader(storage: storage, threads: 2, batchBytes: 32)
        let log = VisitLog()
        try await reader.forEachPiece(progress: nil) { piece, bytes, complete in
            log.add(PieceVisit(piece: piece.value, bytes: Array(bytes), complete: complete))
        }
        let space = Self.a + Self.c + Self.d
        #expect(log.all.map(\.piece) == Array(0..<6))
        #expect(log.all.allSatisfy { $0.complete })
        #expect(log.all.flatMap(\.bytes) == space)
    }

    @Test func readerPassesOnABackendError() async throws {
        let storage = PieceStorage(layout: Self.layout, backend: FailingBackend())
        let reader = ParallelPieceReader(storage: storage, threads: 3, batchBytes: 16)
        let error = await #expect(throws: StorageError.self) {
            try await reader.forEachPiece(progress: nil) { _, _, _ in }
        }
        #expect(error == FailingBackend.error)
    }

    @Test func digestsOfV2Pieces() throws {
        // v2 with pieces of 64 KiB (4 leaves): A [0,20000) and C [65536,70536) are files of one piece (gap
        // included); B [131072,231072) has two, pieces 2 [131072,196608) and 3 [196608,231072), the last short.
        let pieceLength = 65_536
        let files = alignedFiles([20_000, 5_000, 100_000], pieceLength: Int64(pieceLength))
        #expect(files.map(\.offset) == [0, 65_536, 131_072])
        let layout = StorageLayout(files: files, pieceLength: pieceLength, pieceSpaceSize: spaceSize(files))
        #expect(layout.pieceCount == 4)
        let a = patternBytes(20_000, seed: 23)
        let c = patternBytes(5_000, seed: 25)
        let b = patternBytes(100_000, seed: 24)
        let space = spaceBytes(files, contents: [0: a, 1: c, 2: b])

        func digests(_ piece: Int, v1: Bool = true, v2: Bool = true) -> PieceDigests {
            let range = layout.range(of: PieceIndex(piece))
            let bytes = Array(space[Int(range.lowerBound)..<Int(range.upperBound)])
            return bytes.withUnsafeBytes { layout.digests(of: PieceIndex(piece), bytes: $0, v1: v1, v2: v2) }
        }

        // A file of one piece: its root, over a tree only as wide as the file needs (2 leaves, not 4 per piece).
        let first = digests(0)
        #expect(first.v2 == ReferenceMerkle.fileRoot(a))
        #expect(first.v2 == ReferenceMerkle.root(leaves: ReferenceMerkle.leaves(a[...]), width: 2))
        #expect(first.v2 != ReferenceMerkle.root(leaves: ReferenceMerkle.leaves(a[...]), width: 4))
        // v1 hashes the whole piece, the gap's zeros included.
        #expect(first.v1 == SHA1Hash.of(Array(space[0..<65_536])))
        // A file of one block: its root is the block's hash.
        #expect(digests(1).v2 == SHA256Hash.of(c))
        #expect(digests(1).v2 == ReferenceMerkle.fileRoot(c))

        // A file of several pieces: each piece's subtree of pieceLength / 16 KiB leaves, zero-padded.
        let layer = ReferenceMerkle.pieceLayer(b, pieceLength: pieceLength)
        #expect(layer.count == 2)
        #expect(digests(2).v2 == layer[0])
        #expect(digests(3).v2 == layer[1])
        #expect(digests(3).v2 == ReferenceMerkle.root(leaves: ReferenceMerkle.leaves(b[65_536...]), width: 4))
        // The file's root follows from the layer.
        #expect(MerkleTree.root(pieceLayer: layer, pieceLength: pieceLength) == ReferenceMerkle.fileRoot(b))

        #expect(digests(2, v1: false).v1 == nil)
        #expect(digests(2, v1: false).v2 == layer[0])
        #expect(digests(2, v2: false).v2 == nil)
        #expect(digests(2, v2: false).v1 == SHA1Hash.of(Array(space[131_072..<196_608])))
    }

    @Test func checkResultSummaries() {
        let states: [PieceState] = [.good, .missing, .bad, .good, .good, .good, .good, .good, .good, .missing]
        let result = PieceCheckResult(states: states)
        #expect(result.missing == [1, 9])
        #expect(result.bad == [2])
        #expect(!result.isComplete)
        #expect(result.good.count == 10)
        #expect(result.good.setCount == 7)
        #expect(result.good.bytes == [0b1001_1111, 0b1000_0000])
        #expect(result.good[0])
        #expect(!result.good[1])
        #expect(!result.good[9])

        let complete = PieceCheckResult(states: [PieceState](repeating: .good, count: 3))
        #expect(complete.isComplete)
        #expect(complete.good.isFull)
        #expect(complete.missing.isEmpty)
        #expect(complete.bad.isEmpty)
    }
}
