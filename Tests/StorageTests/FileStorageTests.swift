#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Metainfo
@testable import Storage
import Testing

@Suite struct FileStorageTests {
    /// A multi-file torrent named "torrent" with nested folders, an empty file and pieces straddling files:
    /// x.bin [0,10000), y.bin [10000,40000), z [40000,40007), empty @40007, w.bin [40007,60007).
    static let files: [FileEntry] = {
        let specs: [([String], Int64)] = [
            (["torrent", "a", "b", "x.bin"], 10_000),
            (["torrent", "y.bin"], 30_000),
            (["torrent", "c", "z"], 7),
            (["torrent", "empty"], 0),
            (["torrent", "a", "w.bin"], 20_000),
        ]
        var offset: Int64 = 0
        var files: [FileEntry] = []
        for (path, length) in specs {
            files.append(FileEntry(path: path, length: length, offset: offset))
            offset += length
        }
        return files
    }()
    static let layout = StorageLayout(files: files, pieceLength: 16_384, pieceSpaceSize: 60_007)
    static let data = patternBytes(60_007, seed: 10)

    static func slice(_ range: Range<Int64>) -> [UInt8] { Array(data[Int(range.lowerBound)..<Int(range.upperBound)]) }

    static func diskPath(_ root: String, _ file: Int) -> String {
        ([root] + files[file].path).joined(separator: "/")
    }

    /// Writes one byte to `file` straight through the backend.
    static func writeByte(_ backend: FileStorage, _ file: Int) throws {
        try [UInt8]([0x5A]).withUnsafeBytes { try backend.write(file: FileIndex(file), at: 0, from: $0) }
    }

    /// Reads up to `count` bytes of `file` straight through the backend.
    static func readBytes(_ backend: FileStorage, _ file: Int, at offset: Int64 = 0, count: Int = 64) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let got = try buffer.withUnsafeMutableBytes { try backend.read(file: FileIndex(file), at: offset, into: $0) }
        return Array(buffer[..<got])
    }

    @Test(arguments: [FileStorage.Allocation.sparse, .preallocate], [1, 256])
    func writesAcrossFilesReadBack(allocation: FileStorage.Allocation, maxOpenFiles: Int) throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        // The download folder does not exist yet: the first write makes it.
        let root = base + "/downloads/inner"
        let backend = FileStorage(root: root, files: Self.files, allocation: allocation, maxOpenFiles: maxOpenFiles)
        let storage = PieceStorage(layout: Self.layout, backend: backend)
        try writeAll(storage, space: Self.data, blockLength: 5_000)

        for (i, file) in Self.files.enumerated() where file.length > 0 {
            #expect(readFile(Self.diskPath(root, i)) == Self.slice(file.offset..<file.end), "file \(i)")
            #expect(try backend.size(of: FileIndex(i)) == file.length, "file \(i)")
        }
        #expect(folderContents(root) == ["torrent"])
        #expect(folderContents(root + "/torrent/a") == ["b", "w.bin"])
        #expect(folderContents(root + "/torrent/a/b") == ["x.bin"])
        #expect(folderContents(root + "/torrent/c") == ["z"])

        // Read back through the same storage (cached descriptors) and a fresh one.
        let fresh = PieceStorage(layout: Self.layout, backend: FileStorage(root: root, files: Self.files))
        for piece in 0..<Self.layout.pieceCount {
            let expected = Self.slice(Self.layout.range(of: PieceIndex(piece)))
            #expect(try readPiece(storage, piece) == expected, "piece \(piece)")
            #expect(try readPiece(fresh, piece) == expected, "piece \(piece)")
        }
        #expect(try Self.readBytes(backend, 2, count: 100) == Self.slice(40_000..<40_007), "reads stop at the end of a file")
        #expect(try Self.readBytes(backend, 2, at: 7) == [])
    }

    @Test(arguments: [FileStorage.Allocation.sparse, .preallocate])
    func theFirstWriteSizesTheFileToItsFullLength(allocation: FileStorage.Allocation) throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        // big.bin [0,100000), small [100000,100010); piece 6 is [98304,100010).
        let files = [FileEntry(path: ["t", "big.bin"], length: 100_000, offset: 0),
                     FileEntry(path: ["t", "small"], length: 10, offset: 100_000)]
        let layout = StorageLayout(files: files, pieceLength: 16_384, pieceSpaceSize: 100_010)
        let data = patternBytes(100_010, seed: 11)
        let backend = FileStorage(root: base, files: files, allocation: allocation)
        let storage = PieceStorage(layout: layout, backend: backend)
        #expect(layout.pieceCount == 7)
        try writeBlock(storage, BlockRequest(piece: 6, offset: 0, length: 1_706), data[98_304..<100_010])

        let big = base + "/t/big.bin"
        #expect(fileSize(big) == 100_000)
        #expect(try backend.size(of: 0) == 100_000)
        #expect(fileSize(base + "/t/small") == 10)
        let bytes = try #require(readFile(big))
        #expect(bytes.count == 100_000)
        #expect(bytes[..<98_304].allSatisfy { $0 == 0 })
        #expect(Array(bytes[98_304...]) == Array(data[98_304..<100_000]))
        #expect(readFile(base + "/t/small") == Array(data[100_000..<100_010]))
        if allocation == .preallocate {
            let info = try #require(statOf(big))
            #expect(Int64(info.st_blocks) * 512 >= 100_000, "preallocation reserves the whole file")
        }
        // The unwritten part of a sized file reads as zeros: only hashing can tell it apart.
        #expect(try readPiece(storage, 0) == [UInt8](repeating: 0, count: 16_384))
    }

    @Test func aFileLongerThanTheTorrentSaysIsNotTruncated() throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let files = [FileEntry(path: ["t", "f"], length: 10, offset: 0)]
        try writeFile(base + "/t/f", patternBytes(50, seed: 12))
        let backend = FileStorage(root: base, files: files)
        try Self.writeByte(backend, 0)
        #expect(fileSize(base + "/t/f") == 50)
    }

    @Test func readingAMissingFileReturnsNothingAndCreatesNothing() throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let root = base + "/dl"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let backend = FileStorage(root: root, files: Self.files)
        let storage = PieceStorage(layout: Self.layout, backend: backend)

        #expect(try Self.readBytes(backend, 0) == [])
        #expect(try Self.readBytes(backend, 1, at: 100) == [])
        for file in 0..<Self.files.count {
            #expect(try backend.size(of: FileIndex(file)) == nil, "file \(file)")
        }
        for piece in 0..<Self.layout.pieceCount {
            #expect(try readPiece(storage, piece) == nil, "piece \(piece)")
        }
        #expect(folderContents(root).isEmpty)

        // Some of the folders exist but not the file: still nothing is made.
        try FileManager.default.createDirectory(atPath: root + "/torrent/a", withIntermediateDirectories: true)
        #expect(try Self.readBytes(backend, 0) == [])
        #expect(try backend.size(of: 0) == nil)
        #expect(try Self.readBytes(backend, 1) == [])   // torrent/y.bin, whose folder exists
        #expect(try backend.size(of: 1) == nil)
        #expect(try Self.readBytes(backend, 4) == [])   // torrent/a/w.bin, whose folder exists
        #expect(try readPiece(storage, 1) == nil)
        #expect(folderContents(root + "/torrent/a").isEmpty)
        #expect(folderContents(root + "/torrent") == ["a"])

        // The download folder itself is absent: it is not created by reading.
        let absent = base + "/absent"
        let nowhere = FileStorage(root: absent, files: Self.files)
        #expect(try Self.readBytes(nowhere, 1) == [])
        #expect(try nowhere.size(of: 1) == nil)
        #expect(!FileManager.default.fileExists(atPath: absent))
    }

    @Test func aShortFileReadsWhatItHas() throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let y = Self.slice(10_000..<10_100)
        try writeFile(Self.diskPath(base, 1), y)
        let backend = FileStorage(root: base, files: Self.files)
        let storage = PieceStorage(layout: Self.layout, backend: backend)
        #expect(try Self.readBytes(backend, 1, at: 50, count: 100) == Array(y[50...]))
        #expect(try backend.size(of: 1) == 100)
        // y.bin [10000,10100) is there; x.bin [0,10000) is not.
        #expect(try storage.read(BlockRequest(piece: 0, offset: 10_000, length: 100)) == y)
        #expect(try storage.read(BlockRequest(piece: 0, offset: 10_000, length: 101)) == nil)
        #expect(try storage.read(BlockRequest(piece: 0, offset: 9_999, length: 2)) == nil)
        #expect(try readPiece(storage, 1) == nil)
    }

    @Test func aSymlinkAtTheTorrentFolderStopsEveryWrite() throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let root = base + "/dl"
        let outside = base + "/outside"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/torrent", withDestinationPath: outside)

        let backend = FileStorage(root: root, files: Self.files)
        let storage = PieceStorage(layout: Self.layout, backend: backend)
        for piece in 0..<Self.layout.pieceCount {
            let range = Self.layout.range(of: PieceIndex(piece))
            let block = BlockRequest(piece: PieceIndex(piece), offset: 0, length: Int(range.count))
            let error = #expect(throws: StorageError.self, "piece \(piece)") {
                try writeBlock(storage, block, Self.slice(range))
            }
            #expect(error?.reason == .unexpectedFileType, "piece \(piece)")
            if piece == 0 { #expect(error?.path == "torrent/a/b/x.bin") }
        }
        for file in [0, 1, 2, 4] {
            let error = #expect(throws: StorageError.self, "file \(file)") { try Self.writeByte(backend, file) }
            #expect(error?.reason == .unexpectedFileType, "file \(file)")
        }
        #expect(folderContents(outside).isEmpty, "nothing was written through the symlink")

        // Reading does not follow it either.
        try writeFile(outside + "/y.bin", [1, 2, 3])
        let readError = #expect(throws: StorageError.self) { try Self.readBytes(backend, 1) }
        #expect(readError?.reason == .unexpectedFileType)
        #expect(readFile(outside + "/y.bin") == [1, 2, 3])
        #expect(folderContents(outside) == ["y.bin"])
    }

    @Test func aSymlinkAtANestedFolderStopsWritesBelowIt() throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let root = base + "/dl"
        let outside = base + "/outside"
        try FileManager.default.createDirectory(atPath: root + "/torrent", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/torrent/a", withDestinationPath: outside)

        let backend = FileStorage(root: root, files: Self.files)
        for file in [0, 4] {  // torrent/a/b/x.bin and torrent/a/w.bin
            let error = #expect(throws: StorageError.self, "file \(file)") { try Self.writeByte(backend, file) }
            #expect(error?.reason == .unexpectedFileType, "file \(file)")
        }
        #expect(folderContents(outside).isEmpty)
        // Files elsewhere in the torrent are unaffected.
        try Self.writeByte(backend, 1)
        #expect(fileSize(Self.diskPath(root, 1)) == 30_000)
    }

    @Test func aSymlinkAtAFilesPlaceIsNeitherWrittenNorRead() throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let root = base + "/dl"
        let outside = base + "/outside"
        try FileManager.default.createDirectory(atPath: root + "/torrent/c", withIntermediateDirectories: true)
        try writeFile(outside + "/target.bin", Array("original".utf8))
        try FileManager.default.createSymbolicLink(atPath: Self.diskPath(root, 1), withDestinationPath: outside + "/target.bin")
        // A dangling one, whose target does not exist yet.
        try FileManager.default.createSymbolicLink(atPath: Self.diskPath(root, 2), withDestinationPath: outside + "/new.bin")

        let backend = FileStorage(root: root, files: Self.files)
        let storage = PieceStorage(layout: Self.layout, backend: backend)
        for file in [1, 2] {
            let writeError = #expect(throws: StorageError.self, "file \(file)") { try Self.writeByte(backend, file) }
            #expect(writeError?.reason == .unexpectedFileType, "file \(file)")
            #expect(writeError?.path == Self.files[file].path.joined(separator: "/"))
            let readError = #expect(throws: StorageError.self, "file \(file)") { try Self.readBytes(backend, file) }
            #expect(readError?.reason == .unexpectedFileType, "file \(file)")
            #expect(throws: StorageError.self, "file \(file)") { try backend.size(of: FileIndex(file)) }
        }
        // Through PieceStorage too: piece 1 [16384,32768) lies in y.bin.
        let range = Self.layout.range(of: 1)
        #expect(throws: StorageError.self) {
            try writeBlock(storage, BlockRequest(piece: 1, offset: 0, length: Int(range.count)), Self.slice(range))
        }
        #expect(readFile(outside + "/target.bin") == Array("original".utf8))
        #expect(folderContents(outside) == ["target.bin"], "the dangling symlink's target was not created")
    }

    @Test func aFolderWhereAFileBelongsIsRefused() throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        try FileManager.default.createDirectory(atPath: Self.diskPath(base, 1), withIntermediateDirectories: true)
        let backend = FileStorage(root: base, files: Self.files)
        let readError = #expect(throws: StorageError.self) { try Self.readBytes(backend, 1) }
        #expect(readError?.reason == .unexpectedFileType)
        // Writing fails too (the reason may be a system error: opening a folder for writing gives EISDIR).
        #expect(throws: StorageError.self) { try Self.writeByte(backend, 1) }
        #expect(folderContents(Self.diskPath(base, 1)).isEmpty)
    }

    @Test func aFileWhereAFolderBelongsIsRefused() throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        try writeFile(base + "/torrent/a", Array("keep".utf8))
        let backend = FileStorage(root: base, files: Self.files)
        for file in [0, 4] {
            let writeError = #expect(throws: StorageError.self, "file \(file)") { try Self.writeByte(backend, file) }
            #expect(writeError?.reason == .unexpectedFileType, "file \(file)")
            let readError = #expect(throws: StorageError.self, "file \(file)") { try Self.readBytes(backend, file) }
            #expect(readError?.reason == .unexpectedFileType, "file \(file)")
        }
        #expect(readFile(base + "/torrent/a") == Array("keep".utf8))
    }

    @Test func theDownloadFolderItselfMayBeASymlink() throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        try FileManager.default.createDirectory(atPath: base + "/real", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: base + "/link", withDestinationPath: base + "/real")
        let storage = PieceStorage(layout: Self.layout, backend: FileStorage(root: base + "/link", files: Self.files))
        try writeAll(storage, space: Self.data)
        #expect(readFile(Self.diskPath(base + "/real", 1)) == Self.slice(10_000..<40_000))
        #expect(try readPiece(storage, 3) == Self.slice(Self.layout.range(of: 3)))
    }

    @Test(arguments: [1, 2, 256])
    func concurrentReadsAndWritesOfExistingFiles(maxOpenFiles: Int) async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        // The files exist, full of zeros: reads open them read-only before writes need them writable.
        for (i, file) in Self.files.enumerated() {
            try writeFile(Self.diskPath(base, i), [UInt8](repeating: 0, count: Int(file.length)))
        }
        let storage = PieceStorage(layout: Self.layout,
                                   backend: FileStorage(root: base, files: Self.files, maxOpenFiles: maxOpenFiles))
        let layout = Self.layout
        let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
            for piece in 0..<layout.pieceCount {
                let start = Int(layout.range(of: PieceIndex(piece)).lowerBound)
                for block in layout.blocks(of: PieceIndex(piece), blockLength: 2_000) {
                    let bytes = Array(Self.data[(start + block.offset)..<(start + block.offset + block.length)])
                    group.addTask {
                        let before = try storage.read(block)
                        try writeBlock(storage, block, bytes)
                        let after = try storage.read(block)
                        return (before == nil ? 1 : 0) + (after == bytes ? 0 : 1)
                    }
                }
            }
            var total = 0
            for try await count in group { total += count }
            return total
        }
        #expect(mismatches == 0)
        for (i, file) in Self.files.enumerated() where file.length > 0 {
            #expect(readFile(Self.diskPath(base, i)) == Self.slice(file.offset..<file.end), "file \(i)")
        }
    }
}

@Suite struct FileStorageSpecialFileTests {
    @Test("A FIFO where a torrent file belongs is refused at once, never waited on")
    func fifoIsRefused() throws {
        let root = try makeTemporaryFolder()
        defer { removeTemporaryFolder(root) }
        try FileManager.default.createDirectory(atPath: root + "/t", withIntermediateDirectories: true)
        #expect(mkfifo(root + "/t/pipe", 0o644) == 0)
        let storage = FileStorage(root: root, files: [FileEntry(path: ["t", "pipe"], length: 10, offset: 0)])
        var buffer = [UInt8](repeating: 0, count: 10)
        let error = #expect(throws: StorageError.self) {
            _ = try buffer.withUnsafeMutableBytes { try storage.read(file: 0, at: 0, into: $0) }
        }
        #expect(error?.reason == .unexpectedFileType)
        #expect(throws: StorageError.self) { try [UInt8](repeating: 1, count: 4).withUnsafeBytes { try storage.write(file: 0, at: 0, from: $0) } }
    }
}
