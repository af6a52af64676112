import Metainfo

/// Where a torrent's file bytes are kept: positional reads and writes per file.
///
/// A backend knows nothing of pieces or padding; ``PieceStorage`` wraps one and enforces those rules once,
/// for every backend. Shoal has ``FileStorage`` (files below a download folder) and ``MemoryStorage`` (tests).
/// Implementations must allow calls from several threads at once.
public protocol StorageBackend: Sendable {
    /// Reads up to `buffer.count` bytes of `file` from `offset`; returns how many it read, fewer at the end
    /// of the file and zero for a file that does not exist.
    func read(file: FileIndex, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int
    /// Writes all of `buffer` to `file` at `offset`, creating the file (and its folders) if needed.
    func write(file: FileIndex, at offset: Int64, from buffer: UnsafeRawBufferPointer) throws(StorageError)
    /// The current size of `file`, or nil if it does not exist.
    func size(of file: FileIndex) throws(StorageError) -> Int64?
    /// The size and modification time of `file`, or nil if it does not exist: what resume data records to
    /// notice files changed behind Shoal's back.
    func stamp(of file: FileIndex) throws(StorageError) -> FileStamp?
}

/// A file's size and modification time at one moment.
public struct FileStamp: Sendable, Hashable {
    public var size: Int64
    /// Modification time in nanoseconds since 1970 (zero where the storage keeps none).
    public var modified: Int64

    public init(size: Int64, modified: Int64) {
        self.size = size
        self.modified = modified
    }
}

/// A storage failure, with the file and operation it concerns.
public struct StorageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Hashable {
        /// A system call failed with this `errno`.
        case system(operation: String, errno: Int32)
        /// A read or write outside the torrent's pieces or a file's bounds.
        case outOfBounds(String)
        /// A file changed size while it was being read.
        case fileChanged
        /// A path on disk is not what the torrent expects (a folder where a file belongs, a symlink).
        case unexpectedFileType
    }

    public let reason: Reason
    /// The file's path below the download folder, when one file is concerned.
    public let path: String?

    public init(_ reason: Reason, path: String? = nil) {
        self.reason = reason
        self.path = path
    }

    public var description: String {
        let at = path.map { " ('\($0)')" } ?? ""
        switch reason {
        case .system(let operation, let code): return "\(operation) failed\(at): \(systemErrorText(code))"
        case .outOfBounds(let what): return "out of bounds\(at): \(what)"
        case .fileChanged: return "file changed while being read\(at)"
        case .unexpectedFileType: return "not a regular file, or reached through a symlink\(at)"
        }
    }
}
