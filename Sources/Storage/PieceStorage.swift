import Metainfo

/// A torrent's storage seen as pieces and blocks: the one place that enforces the rules every backend would
/// otherwise repeat. Reads and writes stay within the torrent's pieces; padding files and v2 gaps read as
/// zeros and are never written; a short or missing file is reported, not papered over.
public struct PieceStorage: Sendable {
    public let layout: StorageLayout
    public let backend: any StorageBackend

    public init(layout: StorageLayout, backend: any StorageBackend) {
        self.layout = layout
        self.backend = backend
    }

    /// Fills `buffer` with the bytes of `range` in the piece address space. Returns false if some file bytes
    /// in the range are missing (file absent or too short); their place in the buffer is then zero.
    public func read(_ range: Range<Int64>, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Bool {
        guard range.lowerBound >= 0, range.upperBound <= layout.pieceSpaceSize, buffer.count == range.count else {
            throw StorageError(.outOfBounds("read of \(range) in \(layout.pieceSpaceSize) bytes"))
        }
        var complete = true
        var position = range.lowerBound
        for segment in layout.segments(in: range) {
            let start = Int(segment.spaceOffset - range.lowerBound)
            if segment.spaceOffset > position {
                // A v2 gap before this file: zeros.
                let gapStart = Int(position - range.lowerBound)
                (buffer.baseAddress! + gapStart).initializeMemory(as: UInt8.self, repeating: 0, count: start - gapStart)
            }
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[start..<(start + segment.length)])
            if segment.isPadding {
                target.initializeMemory(as: UInt8.self, repeating: 0)
            } else {
                let got = try backend.read(file: segment.file, at: segment.fileOffset, into: target)
                if got < segment.length {
                    complete = false
                    UnsafeMutableRawBufferPointer(rebasing: target[got...]).initializeMemory(as: UInt8.self, repeating: 0)
                }
            }
            position = segment.spaceOffset + Int64(segment.length)
        }
        if position < range.upperBound {
            let tail = Int(position - range.lowerBound)
            (buffer.baseAddress! + tail).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - tail)
        }
        return complete
    }

    /// The bytes of one block, or nil if some of them are missing.
    public func read(_ block: BlockRequest) throws(StorageError) -> [UInt8]? {
        guard layout.contains(block) else { throw StorageError(.outOfBounds("\(block)")) }
        let start = layout.range(of: block.piece).lowerBound + Int64(block.offset)
        var complete = false
        let bytes = try [UInt8](unsafeUninitializedCapacity: block.length) { buffer, count throws(StorageError) in
            complete = try read(start..<(start + Int64(block.length)), into: UnsafeMutableRawBufferPointer(buffer))
            count = block.length
        }
        return complete ? bytes : nil
    }

    /// Writes one block's bytes to the files it covers, skipping padding and gaps.
    public func write(_ block: BlockRequest, from data: UnsafeRawBufferPointer) throws(StorageError) {
        guard layout.contains(block), data.count == block.length else {
            throw StorageError(.outOfBounds("write of \(data.count) bytes to \(block)"))
        }
        let start = layout.range(of: block.piece).lowerBound + Int64(block.offset)
        for segment in layout.segments(in: start..<(start + Int64(block.length))) where !segment.isPadding {
            let from = Int(segment.spaceOffset - start)
            try backend.write(file: segment.file, at: segment.fileOffset,
                              from: UnsafeRawBufferPointer(rebasing: data[from..<(from + segment.length)]))
        }
    }
}
