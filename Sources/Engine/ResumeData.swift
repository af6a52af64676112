#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Bencode
import Metainfo
import Storage

/// What a torrent needs to resume without downloading its verified pieces again, and without trusting data
/// that changed while Shoal was not looking: the verified pieces, and each file's size and modification time
/// when they were recorded. A file whose size or time differs on the next start has its pieces checked again.
public struct ResumeData: Sendable, Hashable {
    /// The torrent it belongs to.
    public var infoHash: SHA1Hash
    /// The pieces verified.
    public var pieces: Bitfield
    /// Per file in torrent order (padding included, stamped zero); nil for a file that did not exist.
    public var files: [FileStamp?]

    public init(infoHash: SHA1Hash, pieces: Bitfield, files: [FileStamp?]) {
        self.infoHash = infoHash
        self.pieces = pieces
        self.files = files
    }

    /// Why resume data cannot be used (then the torrent is checked from scratch).
    public struct Invalid: Error, Sendable, Hashable, CustomStringConvertible {
        public let description: String
    }

    /// The bencoded form.
    public func encoded() -> [UInt8] {
        let stamps = files.map { stamp -> BencodeValue in
            guard let stamp else { return .list([]) }
            return .list([.integer(stamp.size), .integer(stamp.modified)])
        }
        let dictionary: BencodeDictionary = [
            "info-hash": .string(infoHash.bytes),
            "piece-count": .integer(Int64(pieces.count)),
            "pieces": .string(pieces.bytes),
            "files": .list(BencodeList(stamps)),
            "version": .integer(1),
        ]
        return BencodeValue.dictionary(dictionary).encoded()
    }

    /// Reads resume data written by ``encoded()`` and checks that it fits `torrent`.
    public init(bytes: [UInt8], for torrent: TorrentInfo) throws(Invalid) {
        let value: BencodeValue
        do { value = try BencodeDecoder.torrent.decode(bytes) } catch { throw Invalid(description: "\(error)") }
        guard let dictionary = value.dictionary, dictionary["version"]?.integer == 1 else {
            throw Invalid(description: "not Shoal resume data of version 1")
        }
        guard let hashBytes = dictionary["info-hash"]?.bytes, let hash = SHA1Hash(bytes: hashBytes),
              hash == torrent.infoHashes.wire else {
            throw Invalid(description: "resume data belongs to another torrent")
        }
        guard dictionary["piece-count"]?.integer == Int64(torrent.pieceCount), let bits = dictionary["pieces"]?.bytes,
              let pieces = Bitfield(bytes: bits, count: torrent.pieceCount) else {
            throw Invalid(description: "the piece bitfield does not fit the torrent")
        }
        guard let list = dictionary["files"]?.list, list.count == torrent.files.count else {
            throw Invalid(description: "the file list does not fit the torrent")
        }
        var files: [FileStamp?] = []
        for element in list {
            guard let pair = element.list else { throw Invalid(description: "a file stamp is not a list") }
            if pair.isEmpty {
                files.append(nil)
                continue
            }
            guard pair.count == 2, let size = pair[0].integer, let modified = pair[1].integer, size >= 0 else {
                throw Invalid(description: "a file stamp is malformed")
            }
            files.append(FileStamp(size: size, modified: modified))
        }
        self.init(infoHash: hash, pieces: pieces, files: files)
    }

    /// The pieces that can be trusted given the files as they are now: a piece stays verified only if every
    /// file it touches has the size and time recorded. The rest must be checked again.
    public func trustedPieces(layout: StorageLayout, current: [FileStamp?]) -> Bitfield {
        guard current.count == files.count else { return Bitfield(count: pieces.count) }
        var trusted = pieces
        for (index, (then, now)) in zip(files, current).enumerated() where then != now {
            for piece in layout.pieces(of: FileIndex(index)) { trusted[piece] = false }
        }
        return trusted
    }
}

extension ResumeData {
    /// The files of `storage` as they are now, padding stamped zero.
    public static func currentStamps(of storage: PieceStorage) -> [FileStamp?] {
        storage.layout.files.indices.map { index in
            storage.layout.files[index].isPadding ? FileStamp(size: 0, modified: 0)
                : (try? storage.backend.stamp(of: FileIndex(index))) ?? nil
        }
    }

    /// The resume data for `verified` pieces with the files as they are now.
    public static func snapshot(of storage: PieceStorage, infoHash: SHA1Hash, verified: Bitfield) -> ResumeData {
        ResumeData(infoHash: infoHash, pieces: verified, files: currentStamps(of: storage))
    }

    /// The pieces that can be trusted without hashing, from the resume file at `path`: nil if there is none
    /// (the caller then checks everything), or, with `requireAllFiles`, if any file differs from its stamp.
    public static func trustedPieces(at path: String, torrent: TorrentInfo, storage: PieceStorage,
                                     requireAllFiles: Bool = false) throws(Invalid) -> Bitfield? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw Invalid(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var info = stat()
        // A resume file holds a bitfield and a stamp per file: a few megabytes at the very most.
        let limit = 64 << 20
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) <= limit else {
            throw Invalid(description: "\(path) is not a resume file")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count == bytes.count else { throw Invalid(description: "cannot read \(path)") }
        let data = try ResumeData(bytes: bytes, for: torrent)
        let trusted = data.trustedPieces(layout: storage.layout, current: currentStamps(of: storage))
        return requireAllFiles && trusted != data.pieces ? nil : trusted
    }

    /// Creates `folder` and its parents where missing (failures show up when the file is written).
    private static func makeFolders(_ folder: String) {
        var prefix = folder.hasPrefix("/") ? "/" : ""
        for part in folder.split(separator: "/") {
            prefix += part
            mkdir(prefix, 0o755)
            prefix += "/"
        }
    }

    /// Writes the resume data to `path` atomically: a temporary file beside it, flushed, then renamed over it,
    /// so a crash leaves either the old file or the new one, never half of one.
    public func write(to path: String) throws(Invalid) {
        let temporary = path + ".tmp"
        if let slash = path.lastIndex(of: "/") { Self.makeFolders(String(path[..<slash])) }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard descriptor >= 0 else { throw Invalid(description: "cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let bytes = encoded()
        let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard written == bytes.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Invalid(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
