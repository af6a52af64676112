import Bencode

/// A torrent being made: its files laid out in the piece address space, waiting for their hashes.
///
/// Making a torrent takes two steps because hashing needs the layout: a draft first places the files (and,
/// for hybrids, the BEP 47 padding files that align each file to a piece), then the caller hashes the data
/// (Storage's `TorrentCreator` does) and ``build(v1PieceHashes:v2Trees:)`` writes the info dictionary.
public struct TorrentDraft: Sendable {
    /// A file to include, with its path below the torrent's root (for a single-file torrent, its name).
    public struct SourceFile: Sendable, Hashable {
        public var path: [String]
        public var length: Int64
        public var attributes: FileAttributes
        public init(path: [String], length: Int64, attributes: FileAttributes = []) {
            self.path = path
            self.length = length
            self.attributes = attributes
        }
    }

    /// A v2 file's merkle root and piece layer, as hashing produced them.
    public struct MerkleHashes: Sendable, Hashable {
        public var root: SHA256Hash
        /// One hash per piece; needed only for files larger than a piece.
        public var pieceLayer: [SHA256Hash]
        public init(root: SHA256Hash, pieceLayer: [SHA256Hash]) {
            self.root = root
            self.pieceLayer = pieceLayer
        }
    }

    public let name: String
    public let isSingleFile: Bool
    public let version: TorrentVersion
    public let pieceLength: Int
    /// The files as they will appear in the torrent, padding included, with offsets.
    public let files: [FileEntry]
    /// The size of the piece address space.
    public let pieceSpaceSize: Int64

    /// What goes into the torrent besides the files.
    public var metadata = TorrentMetadata()

    /// The number of pieces.
    public var pieceCount: Int { TorrentInfo.pieceCount(spaceSize: pieceSpaceSize, pieceLength: pieceLength) }

    /// Lays out `files` in the given order (Shoal sorts them as a v2 file tree orders them).
    public init(name: String, isSingleFile: Bool, files sources: [SourceFile], pieceLength: Int,
                version: TorrentVersion) throws(MetainfoError) {
        guard pieceLength >= MerkleTree.blockSize, pieceLength & (pieceLength - 1) == 0,
              pieceLength <= TorrentInfo.Limits.maxPieceLength else {
            throw MetainfoError(.invalidValue("piece length must be a power of two from 16 KiB to \(TorrentInfo.Limits.maxPieceLength >> 20) MiB, not \(pieceLength)"), key: "info.piece length")
        }
        guard !isSingleFile || sources.count == 1 else {
            throw MetainfoError(.inconsistent("a single-file torrent has exactly one file"))
        }
        guard Set(sources.map(\.path)).count == sources.count else {
            throw MetainfoError(.inconsistent("two files share a path"))
        }
        if version == .v2, !isSingleFile, sources.count == 1, sources[0].path.count == 1 {
            // A v2 file tree holding one file at its root is a single-file torrent to every loader (libtorrent
            // included), which would lose the folder: refuse rather than write a torrent that means otherwise.
            throw MetainfoError(.invalidValue("a v2 torrent of a folder holding a single file would load as that file alone; make it from the file itself, or as v1 or hybrid"))
        }
        let piece = Int64(pieceLength)
        let lastWithData = sources.lastIndex { $0.length > 0 }
        var files: [FileEntry] = []
        var offset: Int64 = 0
        for (i, source) in sources.enumerated() {
            if version == .v2, source.length > 0 { offset = (offset + piece - 1) / piece * piece }
            let path = isSingleFile ? [name] : [name] + source.path
            files.append(FileEntry(path: path, length: source.length, offset: offset, attributes: source.attributes))
            offset += source.length
            if version == .hybrid, source.length > 0, let lastWithData, i < lastWithData, offset % piece != 0 {
                let gap = piece - offset % piece
                files.append(FileEntry(path: [name, ".pad", String(gap)], length: gap, offset: offset, attributes: .padding))
                offset += gap
            }
        }
        guard offset > 0 else { throw MetainfoError(.invalidValue("the torrent would hold no data")) }
        // Refuse before anyone hashes: the same limits a loader applies.
        guard offset <= TorrentInfo.Limits.maxTotalSize,
              TorrentInfo.pieceCount(spaceSize: offset, pieceLength: pieceLength) <= TorrentInfo.Limits.maxPieceCount else {
            throw MetainfoError(.invalidValue("\(offset) bytes in pieces of \(pieceLength) exceed the limit of \(TorrentInfo.Limits.maxPieceCount) pieces; choose larger pieces"), key: "info.piece length")
        }
        self.name = name
        self.isSingleFile = isSingleFile
        self.version = version
        self.pieceLength = pieceLength
        self.files = files
        self.pieceSpaceSize = version == .v2 ? TorrentInfo.v2SpaceSize(files, pieceLength: pieceLength) : offset
    }

    /// A piece size in the spirit of libtorrent and mktorrent: about 2,000 pieces, a power of two from 16 KiB
    /// to 16 MiB.
    public static func automaticPieceLength(totalSize: Int64) -> Int {
        var length = MerkleTree.blockSize
        while length < 16 << 20, Int64(length) * 2000 < totalSize { length <<= 1 }
        return length
    }

    /// Writes the info dictionary and wraps it in a torrent. `v1PieceHashes` holds 20 bytes a piece (for v1
    /// and hybrid); `v2Trees` holds one entry per file in ``files`` (nil for padding and empty files).
    public func build(v1PieceHashes: [UInt8], v2Trees: [MerkleHashes?]) throws(MetainfoError) -> Metainfo {
        var info = BencodeDictionary()
        info["name"] = .text(name)
        info["piece length"] = .integer(Int64(pieceLength))
        if metadata.isPrivate { info["private"] = .integer(1) }
        if let source = metadata.source { info["source"] = .text(source) }
        if version.hasV1 {
            guard v1PieceHashes.count == pieceCount * 20 else {
                throw MetainfoError(.inconsistent("\(v1PieceHashes.count / 20) piece hashes for \(pieceCount) pieces"), key: "info.pieces")
            }
            info["pieces"] = .string(v1PieceHashes)
            if isSingleFile {
                info["length"] = .integer(files[0].length)
                if !files[0].attributes.isEmpty { info["attr"] = .text(files[0].attributes.letters) }
            } else {
                info["files"] = .list(BencodeList(files.map { file in
                    var entry: BencodeDictionary = ["length": .integer(file.length),
                                                    "path": .list(BencodeList(file.path.dropFirst().map { .text($0) }))]
                    if !file.attributes.isEmpty { entry["attr"] = .text(file.attributes.letters) }
                    return .dictionary(entry)
                }))
            }
        }
        var layers: [SHA256Hash: [SHA256Hash]] = [:]
        if version.hasV2 {
            guard v2Trees.count == files.count else {
                throw MetainfoError(.inconsistent("\(v2Trees.count) merkle trees for \(files.count) files"), key: "info.file tree")
            }
            info["meta version"] = .integer(2)
            var tree = BencodeDictionary()
            for (file, hashes) in zip(files, v2Trees) where !file.isPadding {
                var properties: BencodeDictionary = ["length": .integer(file.length)]
                if file.length > 0 {
                    guard let hashes else {
                        throw MetainfoError(.missingKey, key: "info.file tree.\(file.path.joined(separator: "/")).pieces root")
                    }
                    properties["pieces root"] = .string(hashes.root.bytes)
                    if file.length > Int64(pieceLength) { layers[hashes.root] = hashes.pieceLayer }
                }
                if !file.attributes.isEmpty { properties["attr"] = .text(file.attributes.letters) }
                let components = isSingleFile ? file.path : Array(file.path.dropFirst())
                Self.insert(.dictionary(["": .dictionary(properties)]), at: components[...], into: &tree)
            }
            info["file tree"] = .dictionary(tree)
        }
        let parsed = try TorrentInfo(bytes: BencodeValue.dictionary(info).encoded())
        let torrent = Metainfo(info: parsed, trackers: metadata.trackers.filter { !$0.isEmpty }, webSeeds: metadata.webSeeds,
                               comment: metadata.comment, createdBy: metadata.createdBy, creationDate: metadata.creationDate,
                               pieceLayers: layers)
        // Load what was written the way any loader would, so a torrent Shoal writes always loads.
        return try Metainfo(bytes: torrent.encoded())
    }

    private static func insert(_ leaf: BencodeValue, at path: ArraySlice<String>, into tree: inout BencodeDictionary) {
        guard let first = path.first else { return }
        if path.count == 1 {
            tree[first] = leaf
            return
        }
        var child = tree[first]?.dictionary ?? BencodeDictionary()
        insert(leaf, at: path.dropFirst(), into: &child)
        tree[first] = .dictionary(child)
    }
}

/// What a new torrent carries besides its files: trackers, web seeds, descriptive fields and flags.
public struct TorrentMetadata: Sendable, Hashable {
    /// Tracker URLs in tiers (BEP 12).
    public var trackers: [[String]] = []
    /// Web seed URLs (BEP 19).
    public var webSeeds: [String] = []
    public var comment: String?
    /// The program that makes the torrent.
    public var createdBy: String?
    /// Seconds since 1970; nil leaves the date out, so the same input gives the same file.
    public var creationDate: Int64?
    /// BEP 27: peers only from the torrent's trackers. Part of the info dictionary, so it changes the info-hash.
    public var isPrivate = false
    /// A tag that private trackers use to tell cross-posted torrents apart; also part of the info-hash.
    public var source: String?

    public init() {}
}
