import Metainfo

/// Where the bytes of a torrent's pieces live in its files.
///
/// Pieces are numbered over one piece address space in which every file has an offset. In v1 torrents files
/// follow each other and pieces straddle them; padding files (BEP 47) are zeros that are never stored; in v2
/// every non-empty file starts on a piece boundary, so a file's last piece may be short and followed by a
/// gap that belongs to no file. Zero-length files occupy no bytes.
public struct StorageLayout: Sendable {
    /// A run of bytes of one file that lies in some range of the piece address space.
    public struct Segment: Sendable, Hashable {
        /// The file.
        public var file: FileIndex
        /// The offset of the run within the file.
        public var fileOffset: Int64
        /// The offset of the run in the piece address space.
        public var spaceOffset: Int64
        /// The number of bytes.
        public var length: Int
        /// Whether the file is padding: zeros, never read or written.
        public var isPadding: Bool
    }

    /// The files in torrent order, padding included.
    public let files: [FileEntry]
    /// Bytes per piece.
    public let pieceLength: Int
    /// The end of the last piece's data.
    public let pieceSpaceSize: Int64
    /// The number of pieces.
    public let pieceCount: Int
    /// Indices of the files that occupy bytes, in offset order, for binary search.
    private let dataFiles: [Int]

    public init(files: [FileEntry], pieceLength: Int, pieceSpaceSize: Int64) {
        self.files = files
        self.pieceLength = pieceLength
        self.pieceSpaceSize = pieceSpaceSize
        self.pieceCount = TorrentInfo.pieceCount(spaceSize: pieceSpaceSize, pieceLength: pieceLength)
        self.dataFiles = files.indices.filter { files[$0].length > 0 }
    }

    /// The layout of a parsed torrent.
    public init(_ info: TorrentInfo) {
        self.init(files: info.files, pieceLength: info.pieceLength, pieceSpaceSize: info.pieceSpaceSize)
    }

    /// The layout of a torrent being made.
    public init(_ draft: TorrentDraft) {
        self.init(files: draft.files, pieceLength: draft.pieceLength, pieceSpaceSize: draft.pieceSpaceSize)
    }

    /// The bytes of piece `index` in the piece address space, gaps after a v2 file's end included; empty for
    /// an index outside the torrent.
    public func range(of index: PieceIndex) -> Range<Int64> {
        guard index.value >= 0, index.value < pieceCount else { return 0..<0 }
        let start = Int64(index.value) * Int64(pieceLength)
        return start..<min(start + Int64(pieceLength), pieceSpaceSize)
    }

    /// The number of bytes of piece `index` as peers exchange them. Padding files and the gaps after v2
    /// files count (they read as zeros), as in libtorrent, which models both as padding.
    public func size(of index: PieceIndex) -> Int { Int(range(of: index).count) }

    /// The runs of file bytes within `range`, in order. Gaps between v2 files yield no segment.
    public func segments(in range: Range<Int64>) -> [Segment] {
        var result: [Segment] = []
        // The first file that ends after the range starts.
        var low = 0
        var high = dataFiles.count
        while low < high {
            let mid = (low + high) / 2
            if files[dataFiles[mid]].end <= range.lowerBound { low = mid + 1 } else { high = mid }
        }
        var k = low
        while k < dataFiles.count {
            let file = files[dataFiles[k]]
            if file.offset >= range.upperBound { break }
            let start = max(file.offset, range.lowerBound)
            let end = min(file.end, range.upperBound)
            if start < end {
                result.append(Segment(file: FileIndex(dataFiles[k]), fileOffset: start - file.offset, spaceOffset: start,
                                      length: Int(end - start), isPadding: file.isPadding))
            }
            k += 1
        }
        return result
    }

    /// Where piece `index` lies in its file, for v2 hashing: the file, the piece's position among the file's
    /// pieces, how many pieces the file has, and how many bytes of the file the piece holds.
    public func v2Location(of index: PieceIndex) -> (file: FileIndex, pieceInFile: Int, piecesInFile: Int, dataLength: Int)? {
        guard let segment = segments(in: range(of: index)).first(where: { !$0.isPadding }) else { return nil }
        let file = files[segment.file.value]
        let piece = Int64(pieceLength)
        return (segment.file, Int(segment.fileOffset / piece), TorrentInfo.pieceCount(spaceSize: file.length, pieceLength: pieceLength),
                segment.length)
    }

    /// The blocks of `index` of at most `blockLength` bytes.
    public func blocks(of index: PieceIndex, blockLength: Int = BlockRequest.standardLength) -> [BlockRequest] {
        let size = size(of: index)
        return stride(from: 0, to: size, by: blockLength).map {
            BlockRequest(piece: index, offset: $0, length: min(blockLength, size - $0))
        }
    }

    /// Whether `request` lies within its piece.
    public func contains(_ request: BlockRequest) -> Bool {
        request.piece.value >= 0 && request.piece.value < pieceCount && request.offset >= 0 && request.length > 0
            && request.offset <= size(of: request.piece) - request.length
    }

    /// The pieces that hold bytes of `file`.
    public func pieces(of file: FileIndex) -> Range<PieceIndex> {
        let entry = files[file.value]
        guard entry.length > 0 else { return PieceIndex(0)..<PieceIndex(0) }
        let first = Int(entry.offset / Int64(pieceLength))
        let last = Int((entry.end - 1) / Int64(pieceLength))
        return PieceIndex(first)..<PieceIndex(last + 1)
    }
}
