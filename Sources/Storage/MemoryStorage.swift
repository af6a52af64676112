import Metainfo
import Synchronization

/// Files held in memory: for tests, and for data too small to be worth a file.
public final class MemoryStorage: StorageBackend {
    private let contents: Mutex<[Int: [UInt8]]>

    /// Empty storage: every file starts out missing.
    public init() { contents = Mutex([:]) }

    /// Storage holding the given file contents, keyed by file index.
    public init(files: [FileIndex: [UInt8]]) {
        contents = Mutex(Dictionary(uniqueKeysWithValues: files.map { ($0.key.value, $0.value) }))
    }

    /// The bytes of `file`, or nil if it was never written.
    public func contents(of file: FileIndex) -> [UInt8]? { contents.withLock { $0[file.value] } }

    public func read(file: FileIndex, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        guard offset >= 0 else { throw StorageError(.outOfBounds("offset \(offset)")) }
        return contents.withLock { files in
            guard let bytes = files[file.value], offset < Int64(bytes.count) else { return 0 }
            let count = min(buffer.count, bytes.count - Int(offset))
            bytes.withUnsafeBytes { source in
                buffer.baseAddress!.copyMemory(from: source.baseAddress! + Int(offset), byteCount: count)
            }
            return count
        }
    }

    public func write(file: FileIndex, at offset: Int64, from buffer: UnsafeRawBufferPointer) throws(StorageError) {
        guard offset >= 0, offset <= Int64(Int32.max) else { throw StorageError(.outOfBounds("offset \(offset)")) }
        contents.withLock { files in
            var bytes = files[file.value] ?? []
            let end = Int(offset) + buffer.count
            if bytes.count < end { bytes += [UInt8](repeating: 0, count: end - bytes.count) }
            bytes.withUnsafeMutableBytes { target in
                (target.baseAddress! + Int(offset)).copyMemory(from: buffer.baseAddress!, byteCount: buffer.count)
            }
            files[file.value] = bytes
        }
    }

    public func size(of file: FileIndex) throws(StorageError) -> Int64? {
        contents.withLock { $0[file.value].map { Int64($0.count) } }
    }

    public func stamp(of file: FileIndex) throws(StorageError) -> FileStamp? {
        try size(of: file).map { FileStamp(size: $0, modified: 0) }
    }
}
