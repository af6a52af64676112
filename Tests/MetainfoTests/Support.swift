import Testing
import Bencode
import Metainfo

/// The UTF-8 bytes of `text`.
func raw(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The concatenation of byte arrays.
func concat(_ parts: [UInt8]...) -> [UInt8] { parts.flatMap { $0 } }

/// `<length>:<bytes>`, a bencoded byte string.
func bstring(_ bytes: [UInt8]) -> [UInt8] { raw("\(bytes.count):") + bytes }

/// `<length>:<text>`, a bencoded byte string of UTF-8 text.
func bstring(_ text: String) -> [UInt8] { bstring(raw(text)) }

/// Deterministic file contents in which every 16 KiB block differs from the others.
func sampleBytes(count: Int, seed: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ ($0 >> 10) &+ seed &* 17) }
}

/// A file given to a draft, with its contents.
struct SampleFile: Sendable {
    var path: [String]
    var data: [UInt8]
    var attributes: FileAttributes = []
}

/// Hashes computed the long way, independently of the code under test where possible.
enum Hashing {
    /// The SHA-256 of each 16 KiB block; the last block may be shorter.
    static func leafHashes(_ data: [UInt8]) -> [SHA256Hash] {
        stride(from: 0, to: data.count, by: MerkleTree.blockSize).map { start -> SHA256Hash in
            SHA256Hash.of(Array(data[start..<min(start + MerkleTree.blockSize, data.count)]))
        }
    }

    /// A file's merkle root (over all its leaves, padded with zero leaves) and its piece layer.
    static func merkle(_ data: [UInt8], pieceLength: Int) -> TorrentDraft.MerkleHashes {
        let leaves = leafHashes(data)
        let perPiece = pieceLength / MerkleTree.blockSize
        let layer = stride(from: 0, to: leaves.count, by: perPiece).map { start -> SHA256Hash in
            MerkleTree.subtreeRoot(leaves: Array(leaves[start..<min(start + perPiece, leaves.count)]), width: perPiece)
        }
        return TorrentDraft.MerkleHashes(root: MerkleTree.root(of: leaves), pieceLayer: layer)
    }

    /// The SHA-1 of each piece of the piece address space, concatenated.
    static func v1Pieces(_ space: [UInt8], pieceLength: Int) -> [UInt8] {
        stride(from: 0, to: space.count, by: pieceLength).flatMap { start -> [UInt8] in
            SHA1Hash.of(Array(space[start..<min(start + pieceLength, space.count)])).bytes
        }
    }
}

/// A torrent made from a draft and in-memory contents, with what went into it.
struct BuiltTorrent {
    var draft: TorrentDraft
    var metainfo: Metainfo
    /// The piece address space: file contents at their offsets, zeros elsewhere.
    var space: [UInt8]
    /// The v1 piece hashes over ``space``.
    var v1Pieces: [UInt8]
    /// One entry per file of the draft (nil for padding and empty files).
    var trees: [TorrentDraft.MerkleHashes?]
}

/// Lays out `files` with a draft, hashes their contents and builds the torrent.
func makeTorrent(name: String, isSingleFile: Bool, files: [SampleFile], pieceLength: Int, version: TorrentVersion,
                 configure: (inout TorrentDraft) -> Void = { _ in }) throws -> BuiltTorrent {
    var draft = try TorrentDraft(
        name: name, isSingleFile: isSingleFile,
        files: files.map { TorrentDraft.SourceFile(path: $0.path, length: Int64($0.data.count), attributes: $0.attributes) },
        pieceLength: pieceLength, version: version)
    configure(&draft)
    var contents: [[String]: [UInt8]] = [:]
    for file in files {
        let key: [String] = isSingleFile ? [name] : [name] + file.path
        contents[key] = file.data
    }
    var space = [UInt8](repeating: 0, count: Int(draft.pieceSpaceSize))
    var trees: [TorrentDraft.MerkleHashes?] = []
    for entry in draft.files {
        guard !entry.isPadding, entry.length > 0, let data = contents[entry.path] else {
            trees.append(nil)
            continue
        }
        space.replaceSubrange(Int(entry.offset)..<Int(entry.end), with: data)
        trees.append(Hashing.merkle(data, pieceLength: pieceLength))
    }
    let pieces = Hashing.v1Pieces(space, pieceLength: pieceLength)
    let metainfo = try draft.build(v1PieceHashes: version.hasV1 ? pieces : [], v2Trees: version.hasV2 ? trees : [])
    return BuiltTorrent(draft: draft, metainfo: metainfo, space: space, v1Pieces: pieces, trees: trees)
}

/// The sample multi-file layout used throughout: given in file-tree order (as BEP 52 sorts it), with a file
/// larger than a piece that does not fill its last piece, a small one, an empty one and one of several pieces.
enum Samples {
    static let pieceLength = 32 * 1024
    static let name = "Sample"
    static let a = sampleBytes(count: 40_000, seed: 1)
    static let b = sampleBytes(count: 10, seed: 2)
    static let z = sampleBytes(count: 70_000, seed: 3)
    static let files: [SampleFile] = [
        SampleFile(path: ["a.bin"], data: a),
        SampleFile(path: ["dir", "b.txt"], data: b),
        SampleFile(path: ["dir", "c.empty"], data: []),
        SampleFile(path: ["z.dat"], data: z),
    ]

    static func multiFile(_ version: TorrentVersion, configure: (inout TorrentDraft) -> Void = { _ in }) throws -> BuiltTorrent {
        try makeTorrent(name: name, isSingleFile: false, files: files, pieceLength: pieceLength, version: version, configure: configure)
    }
}

/// The bytes of the `info` value exactly as they stand in a torrent file.
func infoBytes(inTorrentFile file: [UInt8]) throws -> [UInt8] {
    let top = try BencodeDecoder.torrent.decode(file)
    let dictionary = try #require(top.dictionary)
    let span = try #require(dictionary.span(forKey: "info"))
    return Array(file[span])
}

/// A torrent's info dictionary, decoded so that a test can alter it.
func infoDictionary(of torrent: Metainfo) throws -> BencodeDictionary {
    let value = try BencodeDecoder.torrent.decode(torrent.info.rawBytes)
    return try #require(value.dictionary)
}

/// What `TorrentInfo(bytes:)` says of `bytes`: nil when they load.
func infoError(_ bytes: [UInt8]) -> MetainfoError? {
    do {
        _ = try TorrentInfo(bytes: bytes)
        return nil
    } catch {
        return error
    }
}

/// What `TorrentInfo(bytes:)` says of the encoding of `info`: nil when it loads.
func infoError(_ info: BencodeDictionary) -> MetainfoError? {
    infoError(BencodeValue.dictionary(info).encoded())
}

/// What `Metainfo(bytes:)` says of `bytes`: nil when they load.
func torrentError(_ bytes: [UInt8]) -> MetainfoError? {
    do {
        _ = try Metainfo(bytes: bytes)
        return nil
    } catch {
        return error
    }
}

/// Loads an info dictionary given in code.
func loadInfo(_ info: BencodeDictionary) throws -> TorrentInfo {
    try TorrentInfo(bytes: BencodeValue.dictionary(info).encoded())
}

/// A torrent file holding `info` and nothing else.
func torrentFile(info: [UInt8]) -> [UInt8] { concat(raw("d4:info"), info, raw("e")) }

/// The number of pieces of `length` bytes, bounded so that absurd lengths still give a small test value.
private func pieceCount(_ length: Int64, _ pieceLength: Int64) -> Int {
    guard length > 0, pieceLength > 0 else { return 0 }
    let count = length / pieceLength + (length % pieceLength == 0 ? 0 : 1)
    return Int(min(count, 4))
}

/// A v1 single-file info dictionary with placeholder piece hashes of the right count.
func v1SingleInfo(name: String = "file.bin", length: Int64, pieceLength: Int64 = 16_384) -> BencodeDictionary {
    [
        "name": .text(name), "length": .integer(length), "piece length": .integer(pieceLength),
        "pieces": .string([UInt8](repeating: 0xab, count: pieceCount(length, pieceLength) * 20)),
    ]
}

/// One entry of a v1 `files` list.
struct V1File {
    var path: [[UInt8]]
    var length: Int64 = 1
    var attr: String? = nil
    var symlink: [[UInt8]]? = nil

    init(_ path: [String], length: Int64 = 1, attr: String? = nil, symlink: [String]? = nil) {
        self.path = path.map { Array($0.utf8) }
        self.length = length
        self.attr = attr
        self.symlink = symlink.map { $0.map { Array($0.utf8) } }
    }

    init(rawPath: [[UInt8]], length: Int64 = 1) {
        self.path = rawPath
        self.length = length
    }
}

/// A v1 multi-file info dictionary with placeholder piece hashes of the right count.
func v1MultiInfo(name: String = "t", pieceLength: Int64 = 16_384, files: [V1File]) -> BencodeDictionary {
    var total: Int64 = 0
    for file in files where file.length > 0 { total = total.addingReportingOverflow(file.length).partialValue }
    let list = files.map { file -> BencodeValue in
        var entry: BencodeDictionary = [
            "length": .integer(file.length),
            "path": .list(BencodeList(file.path.map { BencodeValue.string($0) })),
        ]
        if let attr = file.attr { entry["attr"] = .text(attr) }
        if let symlink = file.symlink { entry["symlink path"] = .list(BencodeList(symlink.map { BencodeValue.string($0) })) }
        return .dictionary(entry)
    }
    return [
        "name": .text(name), "piece length": .integer(pieceLength), "files": .list(BencodeList(list)),
        "pieces": .string([UInt8](repeating: 0xcd, count: pieceCount(total, pieceLength) * 20)),
    ]
}

/// A leaf of a v2 file tree: `{"": {length, pieces root}}`.
func v2File(length: Int64, root: SHA256Hash? = nil, attr: String? = nil, symlink: [String]? = nil) -> BencodeValue {
    var properties: BencodeDictionary = ["length": .integer(length)]
    if length > 0 { properties["pieces root"] = .string((root ?? SHA256Hash.of(raw("root \(length)"))).bytes) }
    if let attr { properties["attr"] = .text(attr) }
    if let symlink { properties["symlink path"] = .list(BencodeList(symlink.map { BencodeValue.text($0) })) }
    return .dictionary(["": .dictionary(properties)])
}

/// A v2 info dictionary around a file tree.
func v2Info(name: String = "t", pieceLength: Int64 = 16_384, tree: BencodeDictionary) -> BencodeDictionary {
    ["name": .text(name), "piece length": .integer(pieceLength), "meta version": .integer(2), "file tree": .dictionary(tree)]
}

extension MetainfoError.Reason {
    var isInconsistent: Bool {
        if case .inconsistent = self { return true }
        return false
    }

    var isInvalidValue: Bool {
        if case .invalidValue = self { return true }
        return false
    }

    var isWrongType: Bool {
        if case .wrongType = self { return true }
        return false
    }
}
