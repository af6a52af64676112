import Bencode
import Metainfo
import Storage

/// What a torrent needs to resume without downloading its verified pieces again, and without trusting data
/// that changed while Shoal was not looking: the verified pieces, and each file's size and modification time
/// when they were recorded. A file whose size or time differs on the next start has its pieces checked again.
public struct ResumeData: Sendable, Hashable {
    /// One file as it was when the resume data was written.
    public struct FileStamp: Sendable, Hashable {
        public var size: Int64
        /// Modification time in nanoseconds since 1970.
        public var modified: Int64
        public init(size: Int64, modified: Int64) {
            self.size = size
            self.modified = modified
        }
    }

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
