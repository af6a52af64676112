import Bencode

/// BEP 47 file attributes.
public struct FileAttributes: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `p`: a padding file, all zeros, never written to disk.
    public static let padding = FileAttributes(rawValue: 1 << 0)
    /// `x`: executable.
    public static let executable = FileAttributes(rawValue: 1 << 1)
    /// `h`: hidden.
    public static let hidden = FileAttributes(rawValue: 1 << 2)
    /// `l`: a symbolic link; see ``FileEntry/symlinkTarget``.
    public static let symlink = FileAttributes(rawValue: 1 << 3)

    private static let letters: [(Character, FileAttributes)] = [("p", .padding), ("x", .executable), ("h", .hidden), ("l", .symlink)]

    /// Attributes from the `attr` string; unknown letters are ignored, as BEP 47 asks.
    public init(letters: [UInt8]) {
        var attributes: FileAttributes = []
        for (letter, flag) in Self.letters where letters.contains(UInt8(ascii: letter.unicodeScalars.first!)) {
            attributes.insert(flag)
        }
        self = attributes
    }

    /// The `attr` string.
    public var letters: String { String(Self.letters.filter { contains($0.1) }.map(\.0)) }
}

/// One file of a torrent, padding files included.
public struct FileEntry: Sendable, Hashable {
    /// The path below the download folder, already made safe by ``PathRule``. For a multi-file torrent the
    /// first component is the torrent's name.
    public var path: [String]
    /// The size in bytes.
    public var length: Int64
    /// Where the file starts in the torrent's piece address space.
    public var offset: Int64
    /// BEP 47 attributes.
    public var attributes: FileAttributes
    /// For a symlink, its target below the download folder (made safe like ``path``).
    public var symlinkTarget: [String]?
    /// The v2 merkle root of a non-empty file in a v2 or hybrid torrent.
    public var piecesRoot: SHA256Hash?

    public init(path: [String], length: Int64, offset: Int64, attributes: FileAttributes = [],
                symlinkTarget: [String]? = nil, piecesRoot: SHA256Hash? = nil) {
        self.path = path
        self.length = length
        self.offset = offset
        self.attributes = attributes
        self.symlinkTarget = symlinkTarget
        self.piecesRoot = piecesRoot
    }

    /// Whether this is a padding file, whose bytes are zeros that are never stored.
    public var isPadding: Bool { attributes.contains(.padding) }
    /// The end of the file in the piece address space.
    public var end: Int64 { offset + length }
}

/// The parsed `info` dictionary of a torrent: what identifies it and describes its data.
public struct TorrentInfo: Sendable {
    /// The display name and, for multi-file torrents, the root folder, made safe by ``PathRule``.
    public let name: String
    /// Bytes per piece.
    public let pieceLength: Int
    /// The files in torrent order: padding files included, with their offsets in the piece address space.
    public let files: [FileEntry]
    /// Which formats the dictionary describes.
    public let version: TorrentVersion
    /// Whether the torrent is private (BEP 27).
    public let isPrivate: Bool
    /// The `source` tag, which private trackers use to make cross-posted torrents distinct.
    public let source: String?
    /// Whether the data is one file named after the torrent rather than a folder.
    public let isSingleFile: Bool
    /// The number of pieces.
    public let pieceCount: Int
    /// The size of the piece address space: the end of the last piece's data.
    public let pieceSpaceSize: Int64
    /// The info-hashes, over the exact bytes of the dictionary.
    public let infoHashes: InfoHashes
    /// The dictionary's bytes exactly as they were given.
    public let rawBytes: [UInt8]
    /// The v1 piece hashes, 20 bytes each, for v1 and hybrid torrents.
    let v1PieceHashes: [UInt8]

    /// The total size of the content, padding excluded.
    public var totalSize: Int64 { files.reduce(0) { $0 + ($1.isPadding ? 0 : $1.length) } }

    /// A pure v2 torrent's piece address space ends on a piece boundary: its last piece, like every file's,
    /// is padded out, and libtorrent requests it whole (it models the tail as a padding file).
    static func v2SpaceSize(_ files: [FileEntry], pieceLength: Int) -> Int64 {
        let end = files.map(\.end).max() ?? 0
        return Int64(pieceCount(spaceSize: end, pieceLength: pieceLength)) * Int64(pieceLength)
    }

    /// The number of pieces of `pieceLength` bytes that cover `spaceSize` bytes.
    public static func pieceCount(spaceSize: Int64, pieceLength: Int) -> Int {
        Int((spaceSize + Int64(pieceLength) - 1) / Int64(pieceLength))
    }

    /// The SHA-1 hash of piece `index`, for v1 and hybrid torrents.
    public func v1Hash(of index: PieceIndex) -> SHA1Hash? {
        guard version.hasV1, index.value >= 0, index.value < pieceCount else { return nil }
        let start = index.value * 20
        return SHA1Hash(bytes: v1PieceHashes[start..<(start + 20)])
    }

    /// Limits on what a torrent may describe.
    public enum Limits {
        /// The largest piece accepted: larger pieces would let a torrent force huge buffers on us.
        public static let maxPieceLength = 256 << 20
        /// The most pieces: twice libtorrent's default limit, and a bitfield (512 KiB) well within the peer
        /// wire parser's message limit.
        public static let maxPieceCount = 1 << 22
        /// A bound on the total size that keeps all offset arithmetic far from overflow (8 PiB).
        public static let maxTotalSize: Int64 = 1 << 53
    }
}

extension TorrentInfo {
    /// Parses an info dictionary from its bytes (as found in a torrent file or received through metadata
    /// exchange), checking it for consistency.
    public init(bytes: [UInt8], decoder: BencodeDecoder = .torrent) throws(MetainfoError) {
        let value: BencodeValue
        do { value = try decoder.decode(bytes) } catch { throw MetainfoError(.bencode(error)) }
        try self.init(value: value, rawBytes: bytes)
    }

    /// Parses an already decoded info dictionary whose exact bytes are `rawBytes`.
    init(value: BencodeValue, rawBytes: [UInt8]) throws(MetainfoError) {
        let info = try DictionaryReader(value, path: "info")
        var version: TorrentVersion = .v1
        if let metaVersion = try info.integer("meta version") {
            guard metaVersion == 2 else { throw MetainfoError(.unsupportedMetaVersion(metaVersion)) }
            version = info.value("pieces") == nil ? .v2 : .hybrid
        }

        guard let pieceLength64 = try info.integer("piece length") else {
            throw MetainfoError(.missingKey, key: "info.piece length")
        }
        guard pieceLength64 > 0, pieceLength64 <= Int64(Limits.maxPieceLength) else {
            throw MetainfoError(.invalidValue("piece length \(pieceLength64) is outside 1...\(Limits.maxPieceLength)"), key: "info.piece length")
        }
        let pieceLength = Int(pieceLength64)
        if version.hasV2, pieceLength < MerkleTree.blockSize || pieceLength & (pieceLength - 1) != 0 {
            throw MetainfoError(.invalidValue("a v2 piece length must be a power of two of at least 16 KiB, not \(pieceLength)"), key: "info.piece length")
        }

        let nameBytes = try info.bytes(info.utf8Variant(of: "name"))
        guard let nameBytes else { throw MetainfoError(.missingKey, key: "info.name") }
        let name = PathRule.sanitize(component: nameBytes) ?? "_"

        var files: [FileEntry] = []
        var isSingleFile = false
        var v1Hashes: [UInt8] = []
        var pieceSpaceSize: Int64 = 0
        if version.hasV1 {
            (files, isSingleFile) = try Self.parseV1Files(info, name: name)
            pieceSpaceSize = files.last?.end ?? 0
            guard let pieces = try info.bytes("pieces") else { throw MetainfoError(.missingKey, key: "info.pieces") }
            guard pieces.count % 20 == 0 else {
                throw MetainfoError(.invalidValue("length \(pieces.count) is not a multiple of 20"), key: "info.pieces")
            }
            let expected = Self.pieceCount(spaceSize: pieceSpaceSize, pieceLength: pieceLength)
            guard pieces.count / 20 == expected else {
                throw MetainfoError(.inconsistent("\(pieces.count / 20) piece hashes for \(expected) pieces of \(pieceLength) bytes over \(pieceSpaceSize) bytes"), key: "info.pieces")
            }
            v1Hashes = pieces
        }
        if version.hasV2 {
            let (v2Files, v2Single) = try Self.parseFileTree(info, name: name, pieceLength: pieceLength64)
            if version == .v2 {
                files = v2Files
                isSingleFile = v2Single
                pieceSpaceSize = Self.v2SpaceSize(v2Files, pieceLength: pieceLength)
            } else {
                files = try Self.merge(v1: files, v1Single: isSingleFile, v2: v2Files, v2Single: v2Single)
                // Trailing padding may round the v1 part up to a whole piece, but never add one.
                let v2Pieces = Self.pieceCount(spaceSize: v2Files.map(\.end).max() ?? 0, pieceLength: pieceLength)
                guard v2Pieces == Self.pieceCount(spaceSize: pieceSpaceSize, pieceLength: pieceLength) else {
                    throw MetainfoError(.inconsistent("the v1 part has \(Self.pieceCount(spaceSize: pieceSpaceSize, pieceLength: pieceLength)) pieces, the file tree \(v2Pieces)"), key: "info.files")
                }
            }
        }
        guard pieceSpaceSize > 0 else { throw MetainfoError(.invalidValue("the torrent holds no data"), key: "info") }
        let pieceCount = Self.pieceCount(spaceSize: pieceSpaceSize, pieceLength: pieceLength)
        guard pieceCount <= Limits.maxPieceCount else {
            throw MetainfoError(.invalidValue("\(pieceCount) pieces exceed the wire protocol's limit"), key: "info.piece length")
        }
        try Self.checkPathsDistinct(files)

        var hashes = InfoHashes()
        if version.hasV1 { hashes.v1 = SHA1Hash.of(rawBytes) }
        if version.hasV2 { hashes.v2 = SHA256Hash.of(rawBytes) }

        self.name = name
        self.pieceLength = pieceLength
        self.files = files
        self.version = version
        // Optional keys of the wrong type are ignored, as libtorrent does, rather than refusing the torrent.
        self.isPrivate = (info.value("private")?.integer ?? 0) != 0
        self.source = info.value("source")?.bytes.map { String(decoding: $0, as: UTF8.self) }
        self.isSingleFile = isSingleFile
        self.pieceCount = pieceCount
        self.pieceSpaceSize = pieceSpaceSize
        self.infoHashes = hashes
        self.rawBytes = rawBytes
        self.v1PieceHashes = v1Hashes
    }

    /// Adds `length` to a running total, refusing overflow and absurd sizes.
    private static func add(_ total: Int64, _ length: Int64, key: String) throws(MetainfoError) -> Int64 {
        guard length >= 0 else { throw MetainfoError(.invalidValue("negative length \(length)"), key: key) }
        guard length <= Limits.maxTotalSize - total else {
            throw MetainfoError(.invalidValue("total size exceeds \(Limits.maxTotalSize) bytes"), key: key)
        }
        return total + length
    }

    private static func parseV1Files(_ info: DictionaryReader, name: String) throws(MetainfoError) -> ([FileEntry], Bool) {
        if let length = try info.integer("length") {
            guard info.value("files") == nil else {
                throw MetainfoError(.inconsistent("both 'length' and 'files' are present"), key: "info")
            }
            _ = try add(0, length, key: "info.length")
            let attributes = FileAttributes(letters: info.value("attr")?.bytes ?? [])
            return ([FileEntry(path: [name], length: length, offset: 0, attributes: attributes)], true)
        }
        guard let list = try info.list("files") else {
            throw MetainfoError(.missingKey, key: "info.length")
        }
        var files: [FileEntry] = []
        files.reserveCapacity(list.count)
        var offset: Int64 = 0
        for (i, element) in list.enumerated() {
            let key = "info.files[\(i)]"
            let file = try DictionaryReader(element, path: key)
            guard let length = try file.integer("length") else { throw MetainfoError(.missingKey, key: "\(key).length") }
            let pathList = try file.list(file.utf8Variant(of: "path"))
            guard let pathList else { throw MetainfoError(.missingKey, key: "\(key).path") }
            let components = try pathComponents(pathList, key: "\(key).path")
            var attributes = FileAttributes(letters: file.value("attr")?.bytes ?? [])
            // BitComet's padding files predate BEP 47 and carry only their name.
            if components.last?.starts(with: Array("_____padding_file_".utf8)) == true { attributes.insert(.padding) }
            guard let path = PathRule.sanitize(path: components) else {
                throw MetainfoError(.invalidValue("no usable component in the path"), key: "\(key).path")
            }
            let target = try symlinkTarget(file, attributes: &attributes, name: name, singleFile: false)
            files.append(FileEntry(path: [name] + path, length: length, offset: offset, attributes: attributes,
                                   symlinkTarget: target))
            offset = try add(offset, length, key: "\(key).length")
        }
        return (files, false)
    }

    private static func pathComponents(_ list: BencodeList, key: String) throws(MetainfoError) -> [[UInt8]] {
        guard list.count <= PathRule.maxDepth else {
            throw MetainfoError(.invalidValue("\(list.count) components exceed the limit of \(PathRule.maxDepth)"), key: key)
        }
        var components: [[UInt8]] = []
        for (j, component) in list.enumerated() {
            guard case .string(let bytes) = component else {
                throw MetainfoError(.wrongType(expected: "byte string", found: component.kindName), key: "\(key)[\(j)]")
            }
            components.append(bytes)
        }
        return components
    }

    /// A symlink's target below the download folder, or nil when it has none that is usable; then the entry
    /// loses its symlink attribute and is treated as an ordinary (empty) file.
    private static func symlinkTarget(_ file: DictionaryReader, attributes: inout FileAttributes, name: String,
                                      singleFile: Bool) throws(MetainfoError) -> [String]? {
        guard attributes.contains(.symlink) else { return nil }
        guard let list = try file.list("symlink path"),
              let safe = PathRule.sanitize(path: try pathComponents(list, key: file.keyPath("symlink path"))) else {
            attributes.remove(.symlink)
            return nil
        }
        return singleFile ? safe : [name] + safe
    }

    /// Walks a BEP 52 file tree in order. Paths come out relative to the download folder.
    private static func parseFileTree(_ info: DictionaryReader, name: String, pieceLength: Int64) throws(MetainfoError) -> ([FileEntry], Bool) {
        guard let tree = try info.dictionary("file tree") else { throw MetainfoError(.missingKey, key: "info.file tree") }
        if tree.dictionary[""] != nil {
            throw MetainfoError(.invalidValue("the root of the file tree is a file"), key: "info.file tree")
        }
        // As libtorrent decides: one top-level entry that is a file, and no v1 `files` list, make a single-file torrent.
        let single = info.value("files") == nil && tree.dictionary.count == 1
            && tree.dictionary.entries[0].value.dictionary?[""] != nil

        var files: [FileEntry] = []
        var offset: Int64 = 0
        // An explicit stack keeps hostile nesting off the call stack; bencode's depth limit bounds it too.
        var stack: [(node: DictionaryReader, path: [[UInt8]], next: Int)] = [(tree, [], 0)]
        while !stack.isEmpty {
            let top = stack.count - 1
            let (node, path, next) = stack[top]
            guard next < node.dictionary.count else {
                stack.removeLast()
                continue
            }
            stack[top].next += 1
            let entry = node.dictionary.entries[next]
            let key = node.keyPath(String(decoding: entry.key, as: UTF8.self))
            let child = try DictionaryReader(entry.value, path: key)
            let childPath = path + [entry.key]
            guard childPath.count <= PathRule.maxDepth else {
                throw MetainfoError(.invalidValue("path deeper than \(PathRule.maxDepth)"), key: key)
            }
            guard let propertiesValue = child.value("") else {
                if child.dictionary.count == 0 {
                    throw MetainfoError(.invalidValue("empty directory"), key: key)
                }
                stack.append((child, childPath, 0))
                continue
            }
            guard child.dictionary.count == 1 else {
                throw MetainfoError(.invalidValue("a file has sibling entries"), key: key)
            }
            let properties = try DictionaryReader(propertiesValue, path: key)
            guard let length = try properties.integer("length") else { throw MetainfoError(.missingKey, key: properties.keyPath("length")) }
            _ = try add(0, length, key: properties.keyPath("length"))
            var root: SHA256Hash?
            if length > 0 {
                guard let rootBytes = try properties.bytes("pieces root") else {
                    throw MetainfoError(.missingKey, key: properties.keyPath("pieces root"))
                }
                guard let hash = SHA256Hash(bytes: rootBytes) else {
                    throw MetainfoError(.invalidValue("a pieces root has \(rootBytes.count) bytes, not 32"), key: properties.keyPath("pieces root"))
                }
                root = hash
            }
            // A v2 file tree has no padding files; a `p` there would hide a real file from verification.
            var attributes = FileAttributes(letters: properties.value("attr")?.bytes ?? [])
            attributes.remove(.padding)
            guard let safe = PathRule.sanitize(path: childPath) else {
                throw MetainfoError(.invalidValue("no usable component in the path"), key: key)
            }
            if length > 0 {
                // BEP 52: every non-empty file starts on a piece boundary.
                let aligned = (offset + pieceLength - 1) / pieceLength * pieceLength
                offset = aligned
            }
            let target = try symlinkTarget(properties, attributes: &attributes, name: name, singleFile: single)
            files.append(FileEntry(path: single ? safe : [name] + safe, length: length, offset: offset,
                                   attributes: attributes, symlinkTarget: target, piecesRoot: root))
            offset = try add(offset, length, key: key)
        }
        return (files, single)
    }

    /// Checks that a hybrid's v1 and v2 parts describe the same files at the same offsets, and gives the
    /// v1 list (padding included) the v2 roots.
    private static func merge(v1: [FileEntry], v1Single: Bool, v2: [FileEntry], v2Single: Bool) throws(MetainfoError) -> [FileEntry] {
        guard v1Single == v2Single else {
            throw MetainfoError(.inconsistent("the v1 part is \(v1Single ? "single" : "multi")-file but the file tree is not"), key: "info.file tree")
        }
        var merged = v1
        var j = 0
        for i in merged.indices where !merged[i].isPadding {
            guard j < v2.count else {
                throw MetainfoError(.inconsistent("the v1 part has more files than the file tree"), key: "info.files[\(i)]")
            }
            let other = v2[j]
            guard merged[i].path == other.path, merged[i].length == other.length else {
                throw MetainfoError(.inconsistent("v1 file '\(merged[i].path.joined(separator: "/"))' does not match v2 file '\(other.path.joined(separator: "/"))'"), key: "info.files[\(i)]")
            }
            guard merged[i].length == 0 || merged[i].offset == other.offset else {
                throw MetainfoError(.inconsistent("v1 file '\(merged[i].path.joined(separator: "/"))' is not aligned to a piece boundary"), key: "info.files[\(i)]")
            }
            merged[i].piecesRoot = other.piecesRoot
            j += 1
        }
        guard j == v2.count else {
            throw MetainfoError(.inconsistent("the file tree has more files than the v1 part"), key: "info.file tree")
        }
        return merged
    }

    /// Refuses two files at one path, or a file where another needs a folder (padding files are never written).
    private static func checkPathsDistinct(_ files: [FileEntry]) throws(MetainfoError) {
        var filePaths = Set<[String]>()
        var folders = Set<[String]>()
        for file in files where !file.isPadding {
            guard filePaths.insert(file.path).inserted, !folders.contains(file.path) else {
                throw MetainfoError(.inconsistent("two entries share the path '\(file.path.joined(separator: "/"))'"), key: "info")
            }
            for depth in 1..<file.path.count {
                let folder = Array(file.path[..<depth])
                guard !filePaths.contains(folder) else {
                    throw MetainfoError(.inconsistent("'\(folder.joined(separator: "/"))' is both a file and a folder"), key: "info")
                }
                folders.insert(folder)
            }
        }
    }
}

extension BencodeDecoder {
    /// The decoder for torrent files: default limits, and keys accepted out of order (hashes are taken over
    /// the original bytes, so a sloppy encoder's torrent keeps its identity).
    public static let torrent = BencodeDecoder(options: .init(requireSortedKeys: false))
}
