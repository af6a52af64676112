#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Metainfo
import Synchronization

/// Why a torrent could not be made.
public enum TorrentCreationError: Error, Sendable, CustomStringConvertible {
    /// Reading the files failed.
    case storage(StorageError)
    /// The files cannot form a valid torrent (for example, none holds any data).
    case metainfo(MetainfoError)

    public var description: String {
        switch self {
        case .storage(let error): "\(error)"
        case .metainfo(let error): "\(error)"
        }
    }
}

/// Makes a torrent from a file or a folder on disk: lists the files, lays them out, hashes them on all cores
/// (reading each byte once, even for a hybrid's two kinds of hash) and writes the info dictionary.
///
/// Regular files are included, hidden ones too; symlinks and other special files are skipped. Files are
/// ordered by path, byte for byte, which is the order a v2 file tree imposes.
public struct TorrentCreator: Sendable {
    /// What to put in the torrent besides the files.
    public struct Options: Sendable {
        public var version: TorrentVersion = .hybrid
        /// Bytes per piece; nil picks one from the total size.
        public var pieceLength: Int?
        public var metadata = TorrentMetadata()
        /// Worker threads for hashing.
        public var threads = defaultHashingThreads

        public init() {}
    }

    /// The files found at a path, ready to lay out.
    public struct Listing: Sendable {
        /// The torrent's name: the last component of the path.
        public var name: String
        public var isSingleFile: Bool
        /// The folder that holds the file or folder named `name`.
        public var parent: String
        public var files: [TorrentDraft.SourceFile]
    }

    public let options: Options

    public init(options: Options) { self.options = options }

    /// Lists the regular files at `path` (a file, or a folder walked recursively).
    public static func list(path: String) throws(StorageError) -> Listing {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let name = url.lastPathComponent
        let parent = url.deletingLastPathComponent().path
        var info = stat()
        guard lstat(url.path, &info) == 0 else { throw StorageError(.system(operation: "stat", errno: errno), path: url.path) }
        if (info.st_mode & S_IFMT) == S_IFREG {
            return Listing(name: name, isSingleFile: true, parent: parent,
                           files: [.init(path: [name], length: Int64(info.st_size), attributes: attributes(info))])
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { throw StorageError(.unexpectedFileType, path: url.path) }
        var files: [TorrentDraft.SourceFile] = []
        try walk(url.path, relative: [], into: &files)
        files.sort { $0.path.lexicographicallyPrecedes($1.path) { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } }
        return Listing(name: name, isSingleFile: false, parent: parent, files: files)
    }

    private static func attributes(_ info: stat) -> FileAttributes {
        info.st_mode & 0o111 != 0 ? .executable : []
    }

    private static func walk(_ folder: String, relative: [String], into files: inout [TorrentDraft.SourceFile]) throws(StorageError) {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw StorageError(.system(operation: "list folder", errno: posixCode(of: error)), path: folder)
        }
        for name in names {
            let full = folder + "/" + name
            var info = stat()
            guard lstat(full, &info) == 0 else { throw StorageError(.system(operation: "stat", errno: errno), path: full) }
            switch info.st_mode & S_IFMT {
            case S_IFREG: files.append(.init(path: relative + [name], length: Int64(info.st_size), attributes: attributes(info)))
            case S_IFDIR: try walk(full, relative: relative + [name], into: &files)
            default: continue
            }
        }
    }

    /// Makes the torrent for `listing`. `progress` gets the bytes hashed so far, from worker threads.
    public func create(_ listing: Listing, progress: (@Sendable (Int64) -> Void)? = nil) async throws(TorrentCreationError) -> Metainfo {
        let totalSize = listing.files.reduce(Int64(0)) { $0 + $1.length }
        var draft: TorrentDraft
        do {
            draft = try TorrentDraft(name: listing.name, isSingleFile: listing.isSingleFile, files: listing.files,
                                     pieceLength: options.pieceLength ?? TorrentDraft.automaticPieceLength(totalSize: totalSize),
                                     version: options.version)
        } catch { throw .metainfo(error) }
        draft.metadata = options.metadata

        let layout = StorageLayout(draft)
        let storage = PieceStorage(layout: layout, backend: FileStorage(root: listing.parent, files: draft.files))
        let version = draft.version
        let pieceCount = layout.pieceCount
        let results = Mutex((v1: [UInt8](repeating: 0, count: version.hasV1 ? pieceCount * 20 : 0),
                             v2: [SHA256Hash?](repeating: nil, count: version.hasV2 ? pieceCount : 0),
                             short: false))
        let reader = ParallelPieceReader(storage: storage, threads: options.threads)
        do throws(StorageError) {
            try await reader.forEachPiece(progress: progress) { piece, bytes, complete in
                let digests = layout.digests(of: piece, bytes: bytes, v1: version.hasV1, v2: version.hasV2)
                results.withLock { (state: inout (v1: [UInt8], v2: [SHA256Hash?], short: Bool)) in
                    if !complete { state.short = true }
                    if let v1 = digests.v1 {
                        state.v1.replaceSubrange((piece.value * 20)..<(piece.value * 20 + 20), with: v1.bytes)
                    }
                    if version.hasV2 { state.v2[piece.value] = digests.v2 }
                }
            }
        } catch { throw .storage(error) }
        let (v1Hashes, pieceHashes, short) = results.withLock { ($0.v1, $0.v2, $0.short) }
        if short { throw .storage(StorageError(.fileChanged, path: listing.parent + "/" + listing.name)) }

        var trees: [TorrentDraft.MerkleHashes?] = []
        if version.hasV2 {
            for (index, file) in draft.files.enumerated() {
                guard !file.isPadding, file.length > 0 else {
                    trees.append(nil)
                    continue
                }
                let layer = layout.pieces(of: FileIndex(index)).compactMap { pieceHashes[$0.value] }
                guard layer.count == layout.pieces(of: FileIndex(index)).count else {
                    throw .storage(StorageError(.fileChanged, path: file.path.joined(separator: "/")))
                }
                let root = layer.count == 1 ? layer[0] : MerkleTree.root(pieceLayer: layer, pieceLength: draft.pieceLength)
                trees.append(TorrentDraft.MerkleHashes(root: root, pieceLayer: layer))
            }
        }
        do { return try draft.build(v1PieceHashes: v1Hashes, v2Trees: trees) } catch { throw .metainfo(error) }
    }
}
