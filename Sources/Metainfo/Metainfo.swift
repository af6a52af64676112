import Bencode

/// A whole torrent file: the info dictionary and what surrounds it (trackers, web seeds, v2 piece layers).
///
/// ```swift
/// let torrent = try Metainfo(bytes: Array(try Data(contentsOf: url)))
/// print(torrent.info.name, torrent.info.infoHashes)
/// ```
public struct Metainfo: Sendable {
    /// The info dictionary.
    public var info: TorrentInfo
    /// Tracker URLs in tiers (BEP 12); a lone `announce` becomes one tier of one.
    public var trackers: [[String]]
    /// Web seed URLs (BEP 19, `url-list`).
    public var webSeeds: [String]
    /// Free text.
    public var comment: String?
    /// The program that made the torrent.
    public var createdBy: String?
    /// When the torrent was made, in seconds since 1970.
    public var creationDate: Int64?
    /// For each v2 file larger than a piece, its merkle root and the hashes of its piece layer (BEP 52).
    public var pieceLayers: [SHA256Hash: [SHA256Hash]]

    /// Limits on the parts outside the info dictionary.
    public enum Limits {
        /// Most tracker URLs kept (over all tiers) and most web seeds.
        public static let maxURLs = 1000
    }

    /// A torrent from its parts; `pieceLayers` must hold a checked layer for each v2 file larger than a piece.
    public init(info: TorrentInfo, trackers: [[String]] = [], webSeeds: [String] = [], comment: String? = nil,
                createdBy: String? = nil, creationDate: Int64? = nil, pieceLayers: [SHA256Hash: [SHA256Hash]] = [:]) {
        self.info = info
        self.trackers = trackers
        self.webSeeds = webSeeds
        self.comment = comment
        self.createdBy = createdBy
        self.creationDate = creationDate
        self.pieceLayers = pieceLayers
    }

    /// Parses and checks a torrent file.
    public init(bytes: [UInt8], decoder: BencodeDecoder = .torrent) throws(MetainfoError) {
        let root: BencodeValue
        do { root = try decoder.decode(bytes) } catch { throw MetainfoError(.bencode(error)) }
        let top = try DictionaryReader(root, path: "")
        let infoValue = try top.required("info")
        guard let span = top.dictionary.span(forKey: "info") else {
            throw MetainfoError(.missingKey, key: "info")
        }
        info = try TorrentInfo(value: infoValue, rawBytes: Array(bytes[span]))

        var tiers: [[String]] = []
        var urlCount = 0
        if let list = top.value("announce-list")?.list {
            for tier in list {
                guard case .list(let urls) = tier else { continue }
                let kept = urls.compactMap(\.utf8).filter { !$0.isEmpty }.prefix(max(0, Limits.maxURLs - urlCount))
                urlCount += kept.count
                if !kept.isEmpty { tiers.append(Array(kept)) }
            }
        }
        if tiers.isEmpty, let announce = top.value("announce")?.bytes.map({ String(decoding: $0, as: UTF8.self) }), !announce.isEmpty {
            tiers = [[announce]]
        }
        trackers = tiers

        switch top.value("url-list") {
        case .string(let bytes)?: webSeeds = bytes.isEmpty ? [] : [String(decoding: bytes, as: UTF8.self)]
        case .list(let list)?: webSeeds = Array(list.compactMap(\.utf8).filter { !$0.isEmpty }.prefix(Limits.maxURLs))
        default: webSeeds = []
        }
        // Descriptive keys of the wrong type are ignored, as libtorrent does.
        comment = top.value(top.utf8Variant(of: "comment"))?.bytes.map { String(decoding: $0, as: UTF8.self) }
        createdBy = top.value("created by")?.bytes.map { String(decoding: $0, as: UTF8.self) }
        creationDate = top.value("creation date")?.integer

        pieceLayers = [:]
        if info.version.hasV2 {
            pieceLayers = try Self.parsePieceLayers(top.dictionary("piece layers"), info: info)
        }
    }

    /// Reads `piece layers` and checks each against its file's root, as BEP 52 requires before use.
    private static func parsePieceLayers(_ layers: DictionaryReader?, info: TorrentInfo) throws(MetainfoError) -> [SHA256Hash: [SHA256Hash]] {
        var result: [SHA256Hash: [SHA256Hash]] = [:]
        let pieceLength = Int64(info.pieceLength)
        for file in info.files where !file.isPadding && file.length > pieceLength {
            guard let root = file.piecesRoot else { continue }
            if result[root] != nil { continue }  // identical files share a root and a layer
            let key = "piece layers.\(root.hex)"
            guard let value = layers?.dictionary[root.bytes] else { throw MetainfoError(.missingKey, key: key) }
            guard case .string(let bytes) = value else {
                throw MetainfoError(.wrongType(expected: "byte string", found: value.kindName), key: key)
            }
            let expected = TorrentInfo.pieceCount(spaceSize: file.length, pieceLength: info.pieceLength)
            guard bytes.count == expected * 32 else {
                throw MetainfoError(.inconsistent("\(bytes.count / 32) hashes for a file of \(expected) pieces"), key: key)
            }
            let layer = (0..<expected).map { SHA256Hash(bytes: bytes[($0 * 32)..<($0 * 32 + 32)])! }
            guard MerkleTree.root(pieceLayer: layer, pieceLength: info.pieceLength) == root else {
                throw MetainfoError(.inconsistent("the layer does not hash to the file's root"), key: key)
            }
            result[root] = layer
        }
        return result
    }

    /// The torrent file's bytes: the info dictionary exactly as parsed, the rest canonical.
    public func encoded() -> [UInt8] {
        var outer = BencodeDictionary()
        if let first = trackers.first?.first { outer["announce"] = .text(first) }
        if trackers.count > 1 || (trackers.first?.count ?? 0) > 1 {
            outer["announce-list"] = .list(BencodeList(trackers.map { .list(BencodeList($0.map { .text($0) })) }))
        }
        if let comment { outer["comment"] = .text(comment) }
        if let createdBy { outer["created by"] = .text(createdBy) }
        if let creationDate { outer["creation date"] = .integer(creationDate) }
        if !pieceLayers.isEmpty {
            var layers = BencodeDictionary()
            for (root, layer) in pieceLayers { layers[root.bytes] = .string(layer.flatMap(\.bytes)) }
            outer["piece layers"] = .dictionary(layers)
        }
        if !webSeeds.isEmpty {
            outer["url-list"] = webSeeds.count == 1 ? .text(webSeeds[0]) : .list(BencodeList(webSeeds.map { .text($0) }))
        }
        // Splice the info dictionary's own bytes in at its sorted place, so the info-hash never changes.
        var output: [UInt8] = [UInt8(ascii: "d")]
        var infoWritten = false
        let infoKey = Array("info".utf8)
        for entry in outer.entries {
            if !infoWritten, !entry.key.lexicographicallyPrecedes(infoKey) {
                BencodeValue.encodeString(infoKey, into: &output)
                output += info.rawBytes
                infoWritten = true
            }
            BencodeValue.encodeString(entry.key, into: &output)
            entry.value.encode(into: &output)
        }
        if !infoWritten {
            BencodeValue.encodeString(infoKey, into: &output)
            output += info.rawBytes
        }
        output.append(UInt8(ascii: "e"))
        return output
    }

    /// The piece layer of `file`, for a v2 file larger than one piece.
    public func pieceLayer(of file: FileEntry) -> [SHA256Hash]? {
        file.piecesRoot.flatMap { pieceLayers[$0] }
    }

    /// A magnet link for this torrent (BEP 9, BEP 53): its info-hashes, name, trackers and web seeds.
    public var magnetLink: MagnetLink {
        MagnetLink(infoHashes: info.infoHashes, displayName: info.name, trackers: trackers.flatMap { $0 },
                   webSeeds: webSeeds, exactLength: info.totalSize)
    }
}
