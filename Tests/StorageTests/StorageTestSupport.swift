#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Metainfo
@testable import Storage
import Synchronization
import Testing

// MARK: - Temporary folders

/// Makes a fresh, empty folder below the system's temporary folder. The caller removes it with
/// `defer { removeTemporaryFolder(base) }`.
func makeTemporaryFolder() throws -> String {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("shoal-storage-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

func removeTemporaryFolder(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// Writes `bytes` to `path`, creating the folders above it.
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

/// The bytes of the file at `path`, or nil if there is none.
func readFile(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
}

/// The names in a folder (empty if it cannot be listed).
func folderContents(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// `lstat` of a path, or nil if it does not exist.
func statOf(_ path: String) -> stat? {
    var info = stat()
    return lstat(path, &info) == 0 ? info : nil
}

/// The size of the file at `path` (not following a symlink), or nil if there is none.
func fileSize(_ path: String) -> Int64? {
    statOf(path).map { Int64($0.st_size) }
}

// MARK: - Data

/// Deterministic bytes that look random, different for each seed and never a long run of zeros.
func patternBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 0x2545_F491_4F6C_DD1D
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count)
    for _ in 0..<count {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        bytes.append(UInt8(truncatingIfNeeded: state >> 56))
    }
    return bytes
}

// MARK: - Layout builders

/// Files laid end to end from offset 0, as in a v1 torrent; indices in `padding` are BEP 47 padding files.
func sequentialFiles(_ lengths: [Int64], padding: Set<Int> = []) -> [FileEntry] {
    var offset: Int64 = 0
    var files: [FileEntry] = []
    for (i, length) in lengths.enumerated() {
        files.append(FileEntry(path: ["t", "f\(i)"], length: length, offset: offset,
                               attributes: padding.contains(i) ? .padding : []))
        offset += length
    }
    return files
}

/// Files laid out as in a v2 torrent: every non-empty file starts on a piece boundary.
func alignedFiles(_ lengths: [Int64], pieceLength: Int64) -> [FileEntry] {
    var offset: Int64 = 0
    var files: [FileEntry] = []
    for (i, length) in lengths.enumerated() {
        if length > 0 { offset = (offset + pieceLength - 1) / pieceLength * pieceLength }
        files.append(FileEntry(path: ["t", "f\(i)"], length: length, offset: offset))
        offset += length
    }
    return files
}

/// The size of the piece address space of `files`: the end of the file that ends last.
func spaceSize(_ files: [FileEntry]) -> Int64 { files.map(\.end).max() ?? 0 }

/// A segment, for writing expectations compactly.
func seg(_ file: Int, _ fileOffset: Int64, _ spaceOffset: Int64, _ length: Int, padding: Bool = false) -> StorageLayout.Segment {
    StorageLayout.Segment(file: FileIndex(file), fileOffset: fileOffset, spaceOffset: spaceOffset, length: length,
                          isPadding: padding)
}

/// The segments of `range` found the slow way: every file with bytes, intersected with the range.
func naiveSegments(_ files: [FileEntry], in range: Range<Int64>) -> [StorageLayout.Segment] {
    var result: [StorageLayout.Segment] = []
    for (i, file) in files.enumerated() where file.length > 0 {
        let start = max(file.offset, range.lowerBound)
        let end = min(file.offset + file.length, range.upperBound)
        if start < end {
            result.append(seg(i, start - file.offset, start, Int(end - start), padding: file.isPadding))
        }
    }
    return result.sorted { $0.spaceOffset < $1.spaceOffset }
}

/// The piece address space's bytes for `files` holding `contents` (by file index): padding and gaps are zeros.
func spaceBytes(_ files: [FileEntry], contents: [Int: [UInt8]]) -> [UInt8] {
    var space = [UInt8](repeating: 0, count: Int(spaceSize(files)))
    for (i, file) in files.enumerated() where !file.isPadding && file.length > 0 {
        if let bytes = contents[i] {
            space.replaceSubrange(Int(file.offset)..<Int(file.offset) + bytes.count, with: bytes)
        }
    }
    return space
}

// MARK: - Storage helpers

/// Writes one block through a `PieceStorage`.
func writeBlock(_ storage: PieceStorage, _ block: BlockRequest, _ bytes: some Collection<UInt8>) throws {
    let array = Array(bytes)
    try array.withUnsafeBytes { buffer in try storage.write(block, from: buffer) }
}

/// Writes every piece of `space` through `storage`, in blocks of `blockLength` bytes.
func writeAll(_ storage: PieceStorage, space: [UInt8], blockLength: Int = BlockRequest.standardLength) throws {
    let layout = storage.layout
    for piece in 0..<layout.pieceCount {
        let start = Int(layout.range(of: PieceIndex(piece)).lowerBound)
        for block in layout.blocks(of: PieceIndex(piece), blockLength: blockLength) {
            try writeBlock(storage, block, space[(start + block.offset)..<(start + block.offset + block.length)])
        }
    }
}

/// Reads a whole piece through a `PieceStorage`; nil if some of its bytes are missing.
func readPiece(_ storage: PieceStorage, _ piece: Int) throws -> [UInt8]? {
    try storage.read(BlockRequest(piece: PieceIndex(piece), offset: 0, length: storage.layout.size(of: PieceIndex(piece))))
}

/// Whether a storage error is an out-of-bounds one.
func isOutOfBounds(_ error: StorageError?) -> Bool {
    if case .outOfBounds? = error?.reason { return true }
    return false
}

/// A backend whose every operation fails with an I/O error.
struct FailingBackend: StorageBackend {
    static let error = StorageError(.system(operation: "read", errno: EIO), path: "failing")

    func read(file: FileIndex, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        throw Self.error
    }

    func write(file: FileIndex, at offset: Int64, from buffer: UnsafeRawBufferPointer) throws(StorageError) {
        throw Self.error
    }

    func size(of file: FileIndex) throws(StorageError) -> Int64? { throw Self.error }

    func stamp(of file: FileIndex) throws(StorageError) -> FileStamp? { throw Self.error }
}

// MARK: - Thread-safe recorders

/// Records the largest progress value reported and how many reports there were, from any thread.
final class ProgressRecorder: Sendable {
    private let state = Mutex<(maximum: Int64, calls: Int)>((0, 0))

    func record(_ done: Int64) {
        state.withLock { $0 = (max($0.maximum, done), $0.calls + 1) }
    }

    var maximum: Int64 { state.withLock { $0.maximum } }
    var calls: Int { state.withLock { $0.calls } }
}

/// One call of a piece visitor.
struct PieceVisit: Sendable {
    var piece: Int
    var bytes: [UInt8]
    var complete: Bool
}

/// Records piece visits from any thread.
final class VisitLog: Sendable {
    private let visits = Mutex<[PieceVisit]>([])

    func add(_ visit: PieceVisit) { visits.withLock { $0.append(visit) } }

    var all: [PieceVisit] { visits.withLock { $0 }.sorted { $0.piece < $1.piece } }
}

// MARK: - Reference BEP 52 merkle trees

/// An independent implementation of BEP 52 hashing, to check the library's against.
enum ReferenceMerkle {
    static let blockSize = 16 * 1024

    static func pair(_ left: SHA256Hash, _ right: SHA256Hash) -> SHA256Hash {
        SHA256Hash.of(left.bytes + right.bytes)
    }

    static func nextPowerOfTwo(_ n: Int) -> Int {
        var width = 1
        while width < n { width <<= 1 }
        return width
    }

    /// The root over `leaves` padded with zero leaves to `width` leaves.
    static func root(leaves: [SHA256Hash], width: Int) -> SHA256Hash {
        var layer = leaves + [SHA256Hash](repeating: .zero, count: max(0, width - leaves.count))
        while layer.count > 1 {
            layer = stride(from: 0, to: layer.count, by: 2).map { pair(layer[$0], layer[$0 + 1]) }
        }
        return layer[0]
    }

    /// The SHA-256 of each 16 KiB block of `data`, the last one short.
    static func leaves(_ data: ArraySlice<UInt8>) -> [SHA256Hash] {
        stride(from: data.startIndex, to: data.endIndex, by: blockSize).map {
            SHA256Hash.of(Array(data[$0..<min($0 + blockSize, data.endIndex)]))
        }
    }

    /// The `pieces root` of a non-empty file: its blocks' hashes padded with zero leaves to a power of two.
    static func fileRoot(_ data: [UInt8]) -> SHA256Hash {
        let hashes = leaves(data[...])
        return root(leaves: hashes, width: nextPowerOfTwo(hashes.count))
    }

    /// The piece layer of a file: for each piece, the root of its `pieceLength / 16 KiB` leaves.
    static func pieceLayer(_ data: [UInt8], pieceLength: Int) -> [SHA256Hash] {
        stride(from: 0, to: data.count, by: pieceLength).map {
            root(leaves: leaves(data[$0..<min($0 + pieceLength, data.count)]), width: pieceLength / blockSize)
        }
    }
}
