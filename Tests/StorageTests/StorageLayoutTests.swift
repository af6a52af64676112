import Metainfo
@testable import Storage
import Testing

/// Where piece `p` lies in its v2 file, as `StorageLayout.v2Location(of:)` reports it.
struct V2Location: Sendable, Equatable, CustomStringConvertible {
    var file: Int
    var pieceInFile: Int
    var piecesInFile: Int
    var dataLength: Int

    init(_ file: Int, _ pieceInFile: Int, _ piecesInFile: Int, _ dataLength: Int) {
        self.file = file
        self.pieceInFile = pieceInFile
        self.piecesInFile = piecesInFile
        self.dataLength = dataLength
    }

    var description: String { "(file \(file), piece \(pieceInFile) of \(piecesInFile), \(dataLength) bytes)" }
}

/// One layout and everything it should answer.
struct LayoutCase: Sendable, CustomTestStringConvertible {
    let name: String
    let files: [FileEntry]
    let pieceLength: Int
    /// The size of each piece.
    let pieceSizes: [Int]
    /// The segments of each piece.
    let segments: [[StorageLayout.Segment]]
    /// `pieces(of:)` of each file.
    let filePieces: [Range<Int>]
    /// `v2Location(of:)` of each piece, for layouts where it means something.
    let v2Locations: [V2Location?]?

    var testDescription: String { name }

    var layout: StorageLayout {
        StorageLayout(files: files, pieceLength: pieceLength, pieceSpaceSize: spaceSize(files))
    }

    static let all: [LayoutCase] = [
        LayoutCase(
            name: "v1: pieces straddle files; empty files at the start, middle and end",
            // f0 @0 (empty), f1 [0,5), f2 @5 (empty), f3 [5,15), f4 [15,18), f5 @18 (empty)
            files: sequentialFiles([0, 5, 0, 10, 3, 0]), pieceLength: 8,
            pieceSizes: [8, 8, 2],
            segments: [[seg(1, 0, 0, 5), seg(3, 0, 5, 3)],
                       [seg(3, 3, 8, 7), seg(4, 0, 15, 1)],
                       [seg(4, 1, 16, 2)]],
            filePieces: [0..<0, 0..<1, 0..<0, 0..<2, 1..<3, 0..<0],
            v2Locations: nil),
        LayoutCase(
            name: "v1: files ending exactly on piece boundaries",
            // f0 [0,4), f1 [4,8), f2 [8,16), f3 [16,17)
            files: sequentialFiles([4, 4, 8, 1]), pieceLength: 4,
            pieceSizes: [4, 4, 4, 4, 1],
            segments: [[seg(0, 0, 0, 4)], [seg(1, 0, 4, 4)], [seg(2, 0, 8, 4)], [seg(2, 4, 12, 4)], [seg(3, 0, 16, 1)]],
            filePieces: [0..<1, 1..<2, 2..<4, 4..<5],
            v2Locations: nil),
        LayoutCase(
            name: "hybrid: padding files up to piece boundaries, an empty file after an aligned one",
            // f0 [0,5), f1 padding [5,8), f2 [8,16), f3 @16 (empty), f4 [16,18)
            files: sequentialFiles([5, 3, 8, 0, 2], padding: [1]), pieceLength: 8,
            pieceSizes: [8, 8, 2],
            segments: [[seg(0, 0, 0, 5), seg(1, 0, 5, 3, padding: true)],
                       [seg(2, 0, 8, 8)],
                       [seg(4, 0, 16, 2)]],
            filePieces: [0..<1, 0..<1, 1..<2, 0..<0, 2..<3],
            v2Locations: [V2Location(0, 0, 1, 5), V2Location(2, 0, 1, 8), V2Location(4, 0, 1, 2)]),
        LayoutCase(
            name: "hybrid: a file of several pieces followed by padding",
            // f0 [0,1), f1 padding [1,4), f2 [4,10), f3 padding [10,12), f4 [12,15)
            files: sequentialFiles([1, 3, 6, 2, 3], padding: [1, 3]), pieceLength: 4,
            pieceSizes: [4, 4, 4, 3],
            segments: [[seg(0, 0, 0, 1), seg(1, 0, 1, 3, padding: true)],
                       [seg(2, 0, 4, 4)],
                       [seg(2, 4, 8, 2), seg(3, 0, 10, 2, padding: true)],
                       [seg(4, 0, 12, 3)]],
            filePieces: [0..<1, 0..<1, 1..<3, 2..<3, 3..<4],
            v2Locations: [V2Location(0, 0, 1, 1), V2Location(2, 0, 2, 4), V2Location(2, 1, 2, 2), V2Location(4, 0, 1, 3)]),
        LayoutCase(
            name: "v2: aligned files with gaps between them",
            // f0 [0,5), gap, f1 @5 (empty), f2 [8,17), gap, f3 [24,25), f4 @25 (empty)
            files: alignedFiles([5, 0, 9, 1, 0], pieceLength: 8), pieceLength: 8,
            pieceSizes: [8, 8, 8, 1],
            segments: [[seg(0, 0, 0, 5)], [seg(2, 0, 8, 8)], [seg(2, 8, 16, 1)], [seg(3, 0, 24, 1)]],
            filePieces: [0..<1, 0..<0, 1..<3, 3..<4, 0..<0],
            v2Locations: [V2Location(0, 0, 1, 5), V2Location(2, 0, 2, 8), V2Location(2, 1, 2, 1), V2Location(3, 0, 1, 1)]),
    ]

    static let withV2Locations: [LayoutCase] = all.filter { $0.v2Locations != nil }
}

@Suite struct StorageLayoutTests {
    @Test func tableIsConsistent() {
        // Guard the table itself: the builders produce the offsets the comments claim.
        let v1 = sequentialFiles([0, 5, 0, 10, 3, 0])
        #expect(v1.map(\.offset) == [0, 0, 5, 5, 15, 18])
        let v2 = alignedFiles([5, 0, 9, 1, 0], pieceLength: 8)
        #expect(v2.map(\.offset) == [0, 5, 8, 24, 25])
        #expect(spaceSize(v2) == 25)
    }

    @Test(arguments: LayoutCase.all)
    func pieceCountRangesAndSizes(_ c: LayoutCase) {
        let layout = c.layout
        #expect(layout.pieceCount == c.pieceSizes.count)
        #expect(layout.pieceSpaceSize == spaceSize(c.files))
        var total: Int64 = 0
        for (p, size) in c.pieceSizes.enumerated() {
            let start = Int64(p * c.pieceLength)
            #expect(layout.range(of: PieceIndex(p)) == start..<(start + Int64(size)), "piece \(p)")
            #expect(layout.size(of: PieceIndex(p)) == size, "piece \(p)")
            total += Int64(size)
        }
        #expect(total == layout.pieceSpaceSize)
        // Only the last piece may be short.
        #expect(c.pieceSizes.dropLast().allSatisfy { $0 == c.pieceLength })
    }

    @Test(arguments: LayoutCase.all)
    func segmentsOfEachPiece(_ c: LayoutCase) {
        let layout = c.layout
        for p in 0..<c.segments.count {
            #expect(layout.segments(in: layout.range(of: PieceIndex(p))) == c.segments[p], "piece \(p)")
        }
    }

    @Test(arguments: LayoutCase.all)
    func segmentsOfEveryRangeMatchAPlainScan(_ c: LayoutCase) {
        let layout = c.layout
        let size = layout.pieceSpaceSize
        for start in 0...size {
            for end in start...size {
                let got = layout.segments(in: start..<end)
                #expect(got == naiveSegments(c.files, in: start..<end), "range \(start)..<\(end)")
                // Segments are in order, do not overlap and lie within the range.
                #expect(got.allSatisfy { $0.length > 0 && $0.spaceOffset >= start && $0.spaceOffset + Int64($0.length) <= end })
                #expect(zip(got, got.dropFirst()).allSatisfy { $0.spaceOffset + Int64($0.length) <= $1.spaceOffset })
            }
        }
    }

    @Test(arguments: LayoutCase.all)
    func everyFileByteLiesInExactlyOnePiece(_ c: LayoutCase) {
        let layout = c.layout
        var covered = [Int64](repeating: 0, count: c.files.count)
        for p in 0..<layout.pieceCount {
            for segment in layout.segments(in: layout.range(of: PieceIndex(p))) {
                #expect(segment.isPadding == c.files[segment.file.value].isPadding)
                covered[segment.file.value] += Int64(segment.length)
            }
        }
        #expect(covered == c.files.map(\.length))
    }

    @Test(arguments: LayoutCase.all)
    func piecesOfEachFile(_ c: LayoutCase) {
        let layout = c.layout
        for (i, expected) in c.filePieces.enumerated() {
            let got = layout.pieces(of: FileIndex(i))
            if expected.isEmpty {
                #expect(got.isEmpty, "file \(i)")
            } else {
                #expect(got == PieceIndex(expected.lowerBound)..<PieceIndex(expected.upperBound), "file \(i)")
            }
        }
    }

    @Test(arguments: LayoutCase.withV2Locations)
    func v2LocationOfEachPiece(_ c: LayoutCase) throws {
        let layout = c.layout
        let expected = try #require(c.v2Locations)
        #expect(expected.count == layout.pieceCount)
        for (p, location) in expected.enumerated() {
            let got = layout.v2Location(of: PieceIndex(p)).map {
                V2Location($0.file.value, $0.pieceInFile, $0.piecesInFile, $0.dataLength)
            }
            #expect(got == location, "piece \(p)")
        }
    }

    @Test func v2LocationOfAPieceOfPaddingOnlyIsNil() {
        // f0 [0,4), f1 padding [4,8), f2 [8,12): piece 1 holds no file data.
        let layout = StorageLayout(files: sequentialFiles([4, 4, 4], padding: [1]), pieceLength: 4, pieceSpaceSize: 12)
        #expect(layout.v2Location(of: 0) != nil)
        #expect(layout.v2Location(of: 1) == nil)
        #expect(layout.v2Location(of: 2).map { $0.file } == FileIndex(2))
    }

    @Test func containsRefusesRequestsOutsideTheirPiece() {
        // Pieces of 8, 8 and 2 bytes.
        let layout = LayoutCase.all[0].layout
        let cases: [(BlockRequest, Bool)] = [
            (BlockRequest(piece: 0, offset: 0, length: 8), true),
            (BlockRequest(piece: 0, offset: 7, length: 1), true),
            (BlockRequest(piece: 1, offset: 2, length: 6), true),
            (BlockRequest(piece: 2, offset: 0, length: 2), true),
            (BlockRequest(piece: 2, offset: 1, length: 1), true),
            (BlockRequest(piece: 0, offset: -1, length: 2), false),   // negative offset
            (BlockRequest(piece: 0, offset: 4, length: 5), false),    // runs past the piece
            (BlockRequest(piece: 0, offset: 8, length: 1), false),    // starts at the piece's end
            (BlockRequest(piece: 0, offset: 0, length: 9), false),    // longer than the piece
            (BlockRequest(piece: 2, offset: 0, length: 3), false),    // past the short last piece
            (BlockRequest(piece: 2, offset: 2, length: 1), false),
            (BlockRequest(piece: 3, offset: 0, length: 1), false),    // piece index out of range
            (BlockRequest(piece: -1, offset: 0, length: 1), false),
            (BlockRequest(piece: PieceIndex(Int.max), offset: 0, length: 1), false),
            (BlockRequest(piece: 0, offset: 0, length: 0), false),    // zero length
            (BlockRequest(piece: 0, offset: 0, length: -1), false),
            (BlockRequest(piece: 0, offset: 1, length: Int.max), false),
            (BlockRequest(piece: 0, offset: Int.max, length: 1), false),
        ]
        for (request, expected) in cases {
            #expect(layout.contains(request) == expected, "\(request)")
        }
    }

    @Test func blocksAreStandardSizeWithAShortLastBlock() {
        // One file of 150,000 bytes in pieces of 64 KiB: 65,536 + 65,536 + 18,928.
        let files = sequentialFiles([150_000])
        let layout = StorageLayout(files: files, pieceLength: 65_536, pieceSpaceSize: 150_000)
        #expect(layout.pieceCount == 3)
        #expect(layout.blocks(of: 0) == [0, 16_384, 32_768, 49_152].map { BlockRequest(piece: 0, offset: $0, length: 16_384) })
        #expect(layout.blocks(of: 2) == [BlockRequest(piece: 2, offset: 0, length: 16_384),
                                         BlockRequest(piece: 2, offset: 16_384, length: 2_544)])
        #expect(layout.blocks(of: 2, blockLength: 10_000) == [BlockRequest(piece: 2, offset: 0, length: 10_000),
                                                              BlockRequest(piece: 2, offset: 10_000, length: 8_928)])
        for piece in 0..<layout.pieceCount {
            let blocks = layout.blocks(of: PieceIndex(piece))
            #expect(blocks.allSatisfy { layout.contains($0) })
            #expect(blocks.reduce(0) { $0 + $1.length } == layout.size(of: PieceIndex(piece)))
        }
    }

    @Test func blocksOfAV2PieceCoverTheGapAfterItsFile() {
        // f0 [0,5) then a gap to 8: piece 0 is 8 bytes as peers exchange it.
        let layout = LayoutCase.all[4].layout
        #expect(layout.blocks(of: 0, blockLength: 3) == [BlockRequest(piece: 0, offset: 0, length: 3),
                                                         BlockRequest(piece: 0, offset: 3, length: 3),
                                                         BlockRequest(piece: 0, offset: 6, length: 2)])
        #expect(layout.blocks(of: 3) == [BlockRequest(piece: 3, offset: 0, length: 1)])
    }

    @Test func layoutOfAHybridDraft() throws {
        let draft = try TorrentDraft(name: "t", isSingleFile: false,
                                     files: [.init(path: ["a"], length: 20_000), .init(path: ["b"], length: 5)],
                                     pieceLength: 16_384, version: .hybrid)
        let layout = StorageLayout(draft)
        #expect(layout.pieceCount == draft.pieceCount)
        #expect(layout.pieceCount == 3)
        #expect(layout.files.map(\.isPadding) == [false, true, false])
        #expect(layout.segments(in: layout.range(of: 1)) == [seg(0, 16_384, 16_384, 3_616),
                                                             seg(1, 0, 20_000, 12_768, padding: true)])
        #expect(layout.segments(in: layout.range(of: 2)) == [seg(2, 0, 32_768, 5)])
        #expect(layout.size(of: 2) == 5)
        #expect(layout.v2Location(of: 1).map { V2Location($0.file.value, $0.pieceInFile, $0.piecesInFile, $0.dataLength) }
                == V2Location(0, 1, 2, 3_616))
    }

    @Test func layoutOfAV2Draft() throws {
        let draft = try TorrentDraft(name: "t", isSingleFile: false,
                                     files: [.init(path: ["a"], length: 20_000), .init(path: ["b"], length: 5)],
                                     pieceLength: 16_384, version: .v2)
        let layout = StorageLayout(draft)
        #expect(layout.pieceCount == 3)
        #expect(layout.files.map(\.offset) == [0, 32_768])
        // The gap after a's end counts in the piece's size but yields no segment.
        #expect(layout.size(of: 1) == 16_384)
        #expect(layout.segments(in: layout.range(of: 1)) == [seg(0, 16_384, 16_384, 3_616)])
        #expect(layout.segments(in: layout.range(of: 2)) == [seg(1, 0, 32_768, 5)])
    }
}
