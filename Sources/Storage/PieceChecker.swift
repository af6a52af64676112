import Metainfo
import Synchronization

/// What a check found for one piece.
public enum PieceState: Sendable, Hashable {
    /// The data is there and matches every hash the torrent has for it (both, for a hybrid).
    case good
    /// Some of the piece's file bytes are absent: a file is missing or too short.
    case missing
    /// The data is there but does not match.
    case bad
}

/// The outcome of checking a torrent's data.
public struct PieceCheckResult: Sendable, Hashable {
    /// The state of each piece, by index.
    public let states: [PieceState]

    public init(states: [PieceState]) { self.states = states }

    /// The pieces that verified, as a bitfield.
    public var good: Bitfield {
        var field = Bitfield(count: states.count)
        for (i, state) in states.enumerated() where state == .good { field[PieceIndex(i)] = true }
        return field
    }

    /// Indices of missing pieces, ascending.
    public var missing: [PieceIndex] { states.indices.filter { states[$0] == .missing }.map { PieceIndex($0) } }
    /// Indices of bad pieces, ascending.
    public var bad: [PieceIndex] { states.indices.filter { states[$0] == .bad }.map { PieceIndex($0) } }
    /// Whether every piece is good.
    public var isComplete: Bool { states.allSatisfy { $0 == .good } }
}

/// Checks existing data against a torrent's hashes: v1 SHA-1 piece hashes, v2 merkle trees, or both.
///
/// ```swift
/// let storage = PieceStorage(layout: StorageLayout(torrent.info),
///                            backend: FileStorage(root: folder, files: torrent.info.files))
/// let result = try await PieceChecker(torrent: torrent, storage: storage).check()
/// ```
public struct PieceChecker: Sendable {
    public let torrent: Metainfo
    public let storage: PieceStorage
    /// Worker threads; by default one per core.
    public var threads: Int

    public init(torrent: Metainfo, storage: PieceStorage, threads: Int = defaultHashingThreads) {
        self.torrent = torrent
        self.storage = storage
        self.threads = threads
    }

    /// Reads and hashes every piece. `progress` gets the bytes checked so far, from worker threads.
    public func check(progress: (@Sendable (Int64) -> Void)? = nil) async throws(StorageError) -> PieceCheckResult {
        let states = Mutex([PieceState](repeating: .missing, count: storage.layout.pieceCount))
        let reader = ParallelPieceReader(storage: storage, threads: threads)
        try await reader.forEachPiece(progress: progress) { piece, bytes, complete in
            guard complete else { return }
            let good = verify(piece, bytes: bytes)
            states.withLock { $0[piece.value] = good ? .good : .bad }
        }
        return PieceCheckResult(states: states.withLock { $0 })
    }

    /// Whether `bytes` (the whole piece as peers exchange it) match every hash the torrent has for `piece`.
    public func verify(_ piece: PieceIndex, bytes: UnsafeRawBufferPointer) -> Bool {
        let info = torrent.info
        let expectedV2 = info.version.hasV2 ? expectedV2Hash(of: piece) : nil
        // A hybrid without its piece layers (from a magnet link) is checked by its SHA-1s alone, as libtorrent
        // does; a v2-only torrent cannot be checked without them.
        let checkV2 = info.version.hasV2 && (expectedV2 != nil || !info.version.hasV1)
        let digests = storage.layout.digests(of: piece, bytes: bytes, v1: info.version.hasV1, v2: checkV2)
        if info.version.hasV1, digests.v1 != info.v1Hash(of: piece) { return false }
        if checkV2, digests.v2 == nil || digests.v2 != expectedV2 { return false }
        return true
    }

    /// The v2 hash a piece must have: its entry in the file's piece layer, or the file's root for a file of
    /// one piece. Nil when the torrent lacks the layer (then the piece cannot verify).
    private func expectedV2Hash(of piece: PieceIndex) -> SHA256Hash? {
        guard let location = storage.layout.v2Location(of: piece) else { return nil }
        let file = torrent.info.files[location.file.value]
        if location.piecesInFile == 1 { return file.piecesRoot }
        guard let layer = torrent.pieceLayer(of: file), location.pieceInFile < layer.count else { return nil }
        return layer[location.pieceInFile]
    }
}
