import Metainfo
@testable import Storage
import Testing

@Suite struct PieceStorageTests {
    /// f0 [0,5), f1 padding [5,8), f2 [8,19), f3 @19 (empty), f4 [19,25); pieces of 8, 8, 8 and 1 bytes.
    static let files = sequentialFiles([5, 3, 11, 0, 6], padding: [1])
    static let layout = StorageLayout(files: files, pieceLength: 8, pieceSpaceSize: 25)
    /// What a peer would send: the padding bytes are deliberately not zero.
    static let data = patternBytes(25, seed: 1)
    static let a = Array(data[0..<5])
    static let b = Array(data[8..<19])
    static let d = Array(data[19..<25])
    /// What reading the space back gives: the data with the padding as zeros.
    static let expected = spaceBytes(files, contents: [0: a, 2: b, 4: d])

    @Test func fixtureIsWhatItClaims() {
        #expect(Self.layout.pieceCount == 4)
        #expect(Self.data[5..<8].contains(where: { $0 != 0 }))
        #expect(Self.expected[5..<8].allSatisfy { $0 == 0 })
        #expect(Array(Self.expected[0..<5]) == Self.a)
        #expect(Array(Self.expected[8..<19]) == Self.b)
        #expect(Array(Self.expected[19..<25]) == Self.d)
    }

    @Test(arguments: [1, 3, 5, 8])
    func writtenBlocksLandInTheirFiles(blockLength: Int) throws {
        let memory = MemoryStorage()
        let storage = PieceStorage(layout: Self.layout, backend: memory)
        try writeAll(storage, space: Self.data, blockLength: blockLength)

        #expect(memory.contents(of: 0) == Self.a)
        #expect(memory.contents(of: 1) == nil, "padding is never written")
        #expect(memory.contents(of: 2) == Self.b)
        #expect(memory.contents(of: 3) == nil, "an empty file gets no write")
        #expect(memory.contents(of: 4) == Self.d)

        for piece in 0..<Self.layout.pieceCount {
            let range = Self.layout.range(of: PieceIndex(piece))
            #expect(try readPiece(storage, piece) == Array(Self.expected[Int(range.lowerBound)..<Int(range.upperBound)]),
                    "piece \(piece)")
        }
        // Every block of every length reads back.
        for piece in 0..<Self.layout.pieceCount {
            let start = Int(Self.layout.range(of: PieceIndex(piece)).lowerBound)
            let size = Self.layout.size(of: PieceIndex(piece))
            for offset in 0..<size {
                for length in 1...(size - offset) {
                    let block = BlockRequest(piece: PieceIndex(piece), offset: offset, length: length)
                    #expect(try storage.read(block) == Array(Self.expected[(start + offset)..<(start + offset + length)]),
                            "\(block)")
                }
            }
        }
    }

    @Test func aBlockStraddlingTwoFilesWritesBoth() throws {
        let memory = MemoryStorage()
        let storage = PieceStorage(layout: Self.layout, backend: memory)
        // Piece 2 is [16,24); the block is [17,23): f2 bytes 9 and 10, then f4 bytes 0 to 3 (f3 is empty).
        let block = BlockRequest(piece: 2, offset: 1, length: 6)
        try writeBlock(storage, block, Self.data[17..<23])

        #expect(memory.contents(of: 2) == [UInt8](repeating: 0, count: 9) + Array(Self.data[17..<19]))
        #expect(memory.contents(of: 4) == Array(Self.data[19..<23]))
        #expect(memory.contents(of: 0) == nil)
        #expect(memory.contents(of: 1) == nil)
        #expect(memory.contents(of: 3) == nil)

        #expect(try storage.read(block) == Array(Self.data[17..<23]))
        // f4 holds only 4 of its 6 bytes: piece 3 (its last byte) is missing.
        #expect(try readPiece(storage, 3) == nil)
        // f2's first bytes were never written but the file is long enough: they read as the zeros stored.
        #expect(try storage.read(BlockRequest(piece: 1, offset: 0, length: 8)) == [UInt8](repeating: 0, count: 8))
    }

    @Test func aBlockStraddlingDataAndPaddingWritesOnlyTheData() throws {
        let memory = MemoryStorage()
        let storage = PieceStorage(layout: Self.layout, backend: memory)
        // [3,7): f0 bytes 3 and 4, then padding bytes 0 and 1.
        try writeBlock(storage, BlockRequest(piece: 0, offset: 3, length: 4), [1, 2, 3, 4])
        #expect(memory.contents(of: 0) == [0, 0, 0, 1, 2])
        #expect(memory.contents(of: 1) == nil)
        #expect(try storage.read(BlockRequest(piece: 0, offset: 3, length: 4)) == [1, 2, 0, 0])
        // A block of padding only writes nothing at all.
        try writeBlock(storage, BlockRequest(piece: 0, offset: 5, length: 3), [9, 9, 9])
        #expect(memory.contents(of: 1) == nil)
        #expect(memory.contents(of: 0) == [0, 0, 0, 1, 2])
    }

    @Test func paddingReadsAsZerosWhateverTheBackendHolds() throws {
        let memory = MemoryStorage(files: [0: Self.a, 1: [0xFF, 0xFF, 0xFF], 2: Self.b, 4: Self.d])
        let storage = PieceStorage(layout: Self.layout, backend: memory)
        #expect(try readPiece(storage, 0) == Self.a + [0, 0, 0])
        #expect(try storage.read(BlockRequest(piece: 0, offset: 5, length: 3)) == [0, 0, 0])
    }

    @Test func readOfABlockWhoseFileIsMissingReturnsNil() throws {
        let storage = PieceStorage(layout: Self.layout, backend: MemoryStorage(files: [0: Self.a]))
        #expect(try readPiece(storage, 0) == Self.a + [0, 0, 0])
        #expect(try storage.read(BlockRequest(piece: 0, offset: 5, length: 3)) == [0, 0, 0], "padding needs no file")
        #expect(try readPiece(storage, 1) == nil)
        #expect(try readPiece(storage, 2) == nil)
        #expect(try readPiece(storage, 3) == nil)
        #expect(try storage.read(BlockRequest(piece: 2, offset: 4, length: 1)) == nil)
    }

    @Test func readOfABlockPastTheEndOfAShortFileReturnsNil() throws {
        let storage = PieceStorage(layout: Self.layout, backend: MemoryStorage(files: [2: Array(Self.b.prefix(4))]))
        #expect(try storage.read(BlockRequest(piece: 1, offset: 0, length: 4)) == Array(Self.b[0..<4]))
        #expect(try storage.read(BlockRequest(piece: 1, offset: 0, length: 5)) == nil)
        #expect(try storage.read(BlockRequest(piece: 1, offset: 3, length: 2)) == nil)
        #expect(try storage.read(BlockRequest(piece: 1, offset: 4, length: 1)) == nil)
    }

    @Test func readOfARangeZeroesWhatIsMissing() throws {
        let storage = PieceStorage(layout: Self.layout, backend: MemoryStorage(files: [0: Self.a, 4: Self.d]))
        var buffer = [UInt8](repeating: 0xAA, count: 25)
        let complete = try buffer.withUnsafeMutableBytes { try storage.read(0..<25, into: $0) }
        #expect(!complete)
        #expect(buffer == spaceBytes(Self.files, contents: [0: Self.a, 4: Self.d]))

        var middle = [UInt8](repeating: 0xAA, count: 18)
        let middleComplete = try middle.withUnsafeMutableBytes { try storage.read(3..<21, into: $0) }
        #expect(!middleComplete)
        #expect(middle == Array(spaceBytes(Self.files, contents: [0: Self.a, 4: Self.d])[3..<21]))

        // Only f0 and padding: complete.
        var first = [UInt8](repeating: 0xAA, count: 8)
        let firstComplete = try first.withUnsafeMutableBytes { try storage.read(0..<8, into: $0) }
        #expect(firstComplete)
        #expect(first == Self.a + [0, 0, 0])

        let full = PieceStorage(layout: Self.layout, backend: MemoryStorage(files: [0: Self.a, 2: Self.b, 4: Self.d]))
        var all = [UInt8](repeating: 0xAA, count: 25)
        let allComplete = try all.withUnsafeMutableBytes { try full.read(0..<25, into: $0) }
        #expect(allComplete)
        #expect(all == Self.expected)

        var empty: [UInt8] = []
        let emptyComplete = try empty.withUnsafeMutableBytes { try full.read(25..<25, into: $0) }
        #expect(emptyComplete)
    }

    @Test func v2GapsAreNeverWrittenAndReadAsZeros() throws {
        // f0 [0,5), gap, f1 @5 (empty), f2 [8,17), gap, f3 [24,25), f4 @25 (empty).
        let files = alignedFiles([5, 0, 9, 1, 0], pieceLength: 8)
        let layout = StorageLayout(files: files, pieceLength: 8, pieceSpaceSize: 25)
        let memory = MemoryStorage()
        let storage = PieceStorage(layout: layout, backend: memory)
        let data = patternBytes(25, seed: 2)
        try writeAll(storage, space: data, blockLength: 8)

        #expect(memory.contents(of: 0) == Array(data[0..<5]))
        #expect(memory.contents(of: 1) == nil)
        #expect(memory.contents(of: 2) == Array(data[8..<17]))
        #expect(memory.contents(of: 3) == Array(data[24..<25]))
        #expect(memory.contents(of: 4) == nil)

        #expect(try readPiece(storage, 0) == Array(data[0..<5]) + [0, 0, 0])
        #expect(try readPiece(storage, 2) == [data[16]] + [UInt8](repeating: 0, count: 7))
        #expect(try readPiece(storage, 3) == [data[24]])
        var all = [UInt8](repeating: 0xAA, count: 25)
        let complete = try all.withUnsafeMutableBytes { try storage.read(0..<25, into: $0) }
        #expect(complete)
        #expect(all == spaceBytes(files, contents: [0: Array(data[0..<5]), 2: Array(data[8..<17]), 3: [data[24]]]))
    }

    @Test func outOfBoundsReadsAndWritesThrow() throws {
        let memory = MemoryStorage()
        let storage = PieceStorage(layout: Self.layout, backend: memory)

        let badReads: [BlockRequest] = [
            BlockRequest(piece: 4, offset: 0, length: 1),    // no such piece
            BlockRequest(piece: -1, offset: 0, length: 1),
            BlockRequest(piece: 3, offset: 0, length: 2),    // past the short last piece
            BlockRequest(piece: 0, offset: -1, length: 2),   // negative offset
            BlockRequest(piece: 0, offset: 6, length: 3),    // past the piece
            BlockRequest(piece: 0, offset: 0, length: 0),    // empty
        ]
        for block in badReads {
            let error = #expect(throws: StorageError.self, "\(block)") { try storage.read(block) }
            #expect(isOutOfBounds(error), "\(block)")
        }

        let badWrites: [(BlockRequest, [UInt8])] = [
            (BlockRequest(piece: 0, offset: 0, length: 4), [1, 2, 3]),         // data shorter than the block
            (BlockRequest(piece: 0, offset: 0, length: 2), [1, 2, 3]),         // data longer than the block
            (BlockRequest(piece: 0, offset: 6, length: 4), [1, 2, 3, 4]),      // past the piece
            (BlockRequest(piece: 3, offset: 0, length: 2), [1, 2]),            // past the short last piece
            (BlockRequest(piece: 4, offset: 0, length: 1), [1]),               // no such piece
            (BlockRequest(piece: -1, offset: 0, length: 1), [1]),
            (BlockRequest(piece: 1, offset: -2, length: 2), [1, 2]),           // negative offset
            (BlockRequest(piece: 1, offset: 0, length: 0), []),                // empty
        ]
        for (block, bytes) in badWrites {
            let error = #expect(throws: StorageError.self, "\(block)") { try writeBlock(storage, block, bytes) }
            #expect(isOutOfBounds(error), "\(block)")
        }
        // Nothing was written by the refused writes.
        for file in 0..<Self.files.count {
            #expect(memory.contents(of: FileIndex(file)) == nil, "file \(file)")
        }

        let badRanges: [(Range<Int64>, Int)] = [
            (-1..<3, 4),    // before the space
            (20..<26, 6),   // past the space
            (0..<4, 3),     // buffer too small
            (0..<4, 5),     // buffer too large
        ]
        for (range, count) in badRanges {
            let error = #expect(throws: StorageError.self, "\(range)") {
                var buffer = [UInt8](repeating: 0, count: count)
                return try buffer.withUnsafeMutableBytes { try storage.read(range, into: $0) }
            }
            #expect(isOutOfBounds(error), "\(range)")
        }
    }

    @Test func backendErrorsPropagate() throws {
        let storage = PieceStorage(layout: Self.layout, backend: FailingBackend())
        let readError = #expect(throws: StorageError.self) { try readPiece(storage, 1) }
        #expect(readError == FailingBackend.error)
        let writeError = #expect(throws: StorageError.self) { try writeBlock(storage, BlockRequest(piece: 1, offset: 0, length: 1), [7]) }
        #expect(writeError == FailingBackend.error)
        // A piece of padding only never reaches the backend.
        #expect(try storage.read(BlockRequest(piece: 0, offset: 5, length: 3)) == [0, 0, 0])
    }

    @Test func concurrentWritesOfEveryBlockAllLand() async throws {
        let lengths: [Int64] = [70_000, 1, 0, 16_384, 33_333, 5]
        let files = sequentialFiles(lengths)
        let layout = StorageLayout(files: files, pieceLength: 16_384, pieceSpaceSize: spaceSize(files))
        let memory = MemoryStorage()
        let storage = PieceStorage(layout: layout, backend: memory)
        let data = patternBytes(Int(layout.pieceSpaceSize), seed: 3)

        try await withThrowingTaskGroup(of: Void.self) { group in
            for piece in 0..<layout.pieceCount {
                let start = Int(layout.range(of: PieceIndex(piece)).lowerBound)
                for block in layout.blocks(of: PieceIndex(piece), blockLength: 4_096) {
                    let bytes = Array(data[(start + block.offset)..<(start + block.offset + block.length)])
                    group.addTask { try writeBlock(storage, block, bytes) }
                }
            }
            try await group.waitForAll()
        }
        for (i, file) in files.enumerated() {
            let expected: [UInt8]? = file.length == 0 ? nil : Array(data[Int(file.offset)..<Int(file.end)])
            #expect(memory.contents(of: FileIndex(i)) == expected, "file \(i)")
        }
        for piece in 0..<layout.pieceCount {
            let range = layout.range(of: PieceIndex(piece))
            #expect(try readPiece(storage, piece) == Array(data[Int(range.lowerBound)..<Int(range.upperBound)]))
        }
    }
}

@Suite struct MemoryStorageTests {
    @Test func missingFilesReadNothing() throws {
        let memory = MemoryStorage()
        var buffer = [UInt8](repeating: 0xAA, count: 4)
        let got = try buffer.withUnsafeMutableBytes { try memory.read(file: 0, at: 0, into: $0) }
        #expect(got == 0)
        #expect(buffer == [0xAA, 0xAA, 0xAA, 0xAA])
        #expect(try memory.size(of: 0) == nil)
        #expect(memory.contents(of: 0) == nil)
    }

    @Test func writesExtendWithZerosAndReadsStopAtTheEnd() throws {
        let memory = MemoryStorage()
        try [UInt8]([1, 2, 3]).withUnsafeBytes { try memory.write(file: 1, at: 2, from: $0) }
        #expect(memory.contents(of: 1) == [0, 0, 1, 2, 3])
        #expect(try memory.size(of: 1) == 5)
        #expect(memory.contents(of: 0) == nil)

        var buffer = [UInt8](repeating: 0xAA, count: 4)
        let got = try buffer.withUnsafeMutableBytes { try memory.read(file: 1, at: 3, into: $0) }
        #expect(got == 2)
        #expect(buffer[0..<2] == [2, 3])
        let atEnd = try buffer.withUnsafeMutableBytes { try memory.read(file: 1, at: 5, into: $0) }
        #expect(atEnd == 0)
        let pastEnd = try buffer.withUnsafeMutableBytes { try memory.read(file: 1, at: 50, into: $0) }
        #expect(pastEnd == 0)

        // Overwriting in the middle keeps the size.
        try [UInt8]([9]).withUnsafeBytes { try memory.write(file: 1, at: 0, from: $0) }
        #expect(memory.contents(of: 1) == [9, 0, 1, 2, 3])
    }

    @Test func initialContentsAreKeptByIndex() throws {
        let memory = MemoryStorage(files: [2: [5, 6, 7]])
        #expect(memory.contents(of: 2) == [5, 6, 7])
        #expect(try memory.size(of: 2) == 3)
        #expect(memory.contents(of: 0) == nil)
    }

    @Test func writesAtImpossibleOffsetsThrow() throws {
        let memory = MemoryStorage()
        let negative = #expect(throws: StorageError.self) {
            try [UInt8]([1]).withUnsafeBytes { try memory.write(file: 0, at: -1, from: $0) }
        }
        #expect(isOutOfBounds(negative))
        let huge = #expect(throws: StorageError.self) {
            try [UInt8]([1]).withUnsafeBytes { try memory.write(file: 0, at: Int64(Int32.max) + 1, from: $0) }
        }
        #expect(isOutOfBounds(huge))
        #expect(memory.contents(of: 0) == nil)
    }
}
