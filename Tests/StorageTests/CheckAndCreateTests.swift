#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Metainfo
@testable import Storage
import Testing

/// A folder named "tree" of files to make torrents from, below a temporary folder.
struct SourceTree {
    struct Spec: Sendable {
        var path: [String]
        var length: Int
    }

    /// The regular files, in the order a torrent lists them (by path, byte for byte): empty files at the start,
    /// middle and end, hidden and non-ASCII names, a nested folder, a file of exactly one piece.
    static let specs: [Spec] = [
        Spec(path: ["!empty"], length: 0),
        Spec(path: [".hidden"], length: 3),
        Spec(path: ["B.txt"], length: 16_384),
        Spec(path: ["a.bin"], length: 40_000),
        Spec(path: ["empty"], length: 0),
        Spec(path: ["nested", "d"], length: 70_001),
        Spec(path: ["nested", "deep", "c.dat"], length: 5_000),
        Spec(path: ["Жук.txt"], length: 1),
        Spec(path: ["日本-empty"], length: 0),
    ]
    static let name = "tree"
    /// The content's total size, and the size of the piece address space for each kind of torrent in pieces
    /// of 16 KiB (v2 and hybrid align every non-empty file to a piece).
    static let totalSize: Int64 = 131_389
    /// v1 files follow each other; a hybrid's are piece-aligned by padding; pure v2 also pads its last piece.
    static func pieceSpaceSize(_ version: TorrentVersion) -> Int64 {
        switch version {
        case .v1: 131_389
        case .hybrid: 180_225
        case .v2: 196_608
        }
    }

    let base: String
    /// Contents by path relative to the tree.
    let contents: [[String]: [UInt8]]

    var root: String { base + "/" + Self.name }

    func diskPath(_ relative: [String]) -> String { ([root] + relative).joined(separator: "/") }

    /// The bytes of a file by its path in a torrent (which starts with the torrent's name).
    func bytes(torrentPath: [String]) -> [UInt8]? {
        guard torrentPath.first == Self.name else { return nil }
        return contents[Array(torrentPath.dropFirst())]
    }

    /// Writes the tree into `base`, plus a symlink that listing must skip. `nested/d` is executable.
    static func make(in base: String) throws -> SourceTree {
        var contents: [[String]: [UInt8]] = [:]
        for (i, spec) in specs.enumerated() {
            let bytes = patternBytes(spec.length, seed: UInt64(100 + i))
            try writeFile(([base, name] + spec.path).joined(separator: "/"), bytes)
            contents[spec.path] = bytes
        }
        let tree = SourceTree(base: base, contents: contents)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tree.diskPath(["nested", "d"]))
        try FileManager.default.createSymbolicLink(atPath: tree.diskPath(["link-to-a"]), withDestinationPath: tree.diskPath(["a.bin"]))
        return tree
    }
}

/// Makes a torrent with pieces of 16 KiB (unless told otherwise) on two threads.
func makeTorrent(_ listing: TorrentCreator.Listing, _ version: TorrentVersion, pieceLength: Int = 16_384,
                 progress: ProgressRecorder? = nil) async throws -> Metainfo {
    var options = TorrentCreator.Options()
    options.version = version
    options.pieceLength = pieceLength
    options.threads = 2
    let creator = TorrentCreator(options: options)
    if let progress { return try await creator.create(listing, progress: { progress.record($0) }) }
    return try await creator.create(listing)
}

/// Checks the data of `torrent` below `root` with a fresh `FileStorage`.
func checkPieces(_ torrent: Metainfo, root: String, progress: ProgressRecorder? = nil) async throws -> PieceCheckResult {
    let storage = PieceStorage(layout: StorageLayout(torrent.info),
                               backend: FileStorage(root: root, files: torrent.info.files))
    let checker = PieceChecker(torrent: torrent, storage: storage, threads: 2)
    if let progress { return try await checker.check(progress: { progress.record($0) }) }
    return try await checker.check()
}

/// Recomputes every hash of `torrent` from the files' bytes with the reference implementation.
func expectHashesMatch(_ torrent: Metainfo, _ bytesOf: ([String]) -> [UInt8]?) throws {
    let info = torrent.info
    let pieceLength = info.pieceLength
    var space = [UInt8](repeating: 0, count: Int(info.pieceSpaceSize))
    for file in info.files where !file.isPadding && file.length > 0 {
        let bytes = try #require(bytesOf(file.path), "\(file.path)")
        try #require(bytes.count == Int(file.length), "\(file.path)")
        space.replaceSubrange(Int(file.offset)..<Int(file.end), with: bytes)
    }
    if info.version.hasV1 {
        for piece in 0..<info.pieceCount {
            let start = piece * pieceLength
            let end = min(start + pieceLength, space.count)
            #expect(info.v1Hash(of: PieceIndex(piece)) == SHA1Hash.of(Array(space[start..<end])), "piece \(piece)")
        }
    } else {
        #expect(info.v1Hash(of: 0) == nil)
    }
    for file in info.files where !file.isPadding {
        guard info.version.hasV2, file.length > 0 else {
            #expect(file.piecesRoot == nil, "\(file.path)")
            continue
        }
        let bytes = try #require(bytesOf(file.path))
        #expect(file.piecesRoot == ReferenceMerkle.fileRoot(bytes), "\(file.path)")
        if file.length > Int64(pieceLength) {
            #expect(torrent.pieceLayer(of: file) == ReferenceMerkle.pieceLayer(bytes, pieceLength: pieceLength), "\(file.path)")
        } else {
            #expect(torrent.pieceLayer(of: file) == nil, "\(file.path)")
        }
    }
}

@Suite struct CheckAndCreateTests {
    static let pieceLength = 16_384

    @Test func listingFindsRegularFilesInByteOrder() throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let tree = try SourceTree.make(in: base)
        let listing = try TorrentCreator.list(path: tree.root)
        #expect(listing.name == "tree")
        #expect(!listing.isSingleFile)
        #expect(URL(fileURLWithPath: listing.parent).resolvingSymlinksInPath().path
                == URL(fileURLWithPath: base).resolvingSymlinksInPath().path)
        #expect(listing.files.map(\.path) == SourceTree.specs.map(\.path), "sorted, symlink skipped")
        #expect(listing.files.map(\.length) == SourceTree.specs.map { Int64($0.length) })
        #expect(listing.files.first(where: { $0.path == ["nested", "d"] })?.attributes == FileAttributes.executable)
        #expect(listing.files.filter { $0.path != ["nested", "d"] }.allSatisfy { $0.attributes.isEmpty })

        let slashed = try TorrentCreator.list(path: tree.root + "/")
        #expect(slashed.name == "tree")
        #expect(slashed.files == listing.files)
    }

    @Test(arguments: TorrentVersion.allCases)
    func createdTorrentVerifies(version: TorrentVersion) async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let tree = try SourceTree.make(in: base)
        let listing = try TorrentCreator.list(path: tree.root)
        let creation = ProgressRecorder()
        let torrent = try await makeTorrent(listing, version, progress: creation)
        let info = torrent.info

        #expect(info.version == version)
        #expect(info.name == "tree")
        #expect(info.pieceLength == Self.pieceLength)
        #expect(!info.isSingleFile)
        let data = info.files.filter { !$0.isPadding }
        #expect(data.map(\.path) == SourceTree.specs.map { ["tree"] + $0.path })
        #expect(data.map(\.length) == SourceTree.specs.map { Int64($0.length) })
        #expect(info.totalSize == SourceTree.totalSize)
        #expect(info.pieceSpaceSize == SourceTree.pieceSpaceSize(version))
        #expect(info.pieceCount == Int((SourceTree.pieceSpaceSize(version) + 16_383) / 16_384))
        #expect(StorageLayout(info).pieceCount == info.pieceCount)
        #expect(data.first(where: { $0.path == ["tree", "nested", "d"] })?.attributes.contains(.executable) == true)
        #expect(creation.maximum == info.pieceSpaceSize)

        try expectHashesMatch(torrent) { tree.bytes(torrentPath: $0) }

        if version.hasV1 {
            #expect(info.infoHashes.v1 == SHA1Hash.of(info.rawBytes))
        } else {
            #expect(info.infoHashes.v1 == nil)
        }
        if version.hasV2 {
            #expect(info.infoHashes.v2 == SHA256Hash.of(info.rawBytes))
        } else {
            #expect(info.infoHashes.v2 == nil)
        }
        let reloaded = try Metainfo(bytes: torrent.encoded())
        #expect(reloaded.info.infoHashes == info.infoHashes)

        let checking = ProgressRecorder()
        let result = try await checkPieces(torrent, root: listing.parent, progress: checking)
        #expect(result.states.count == info.pieceCount)
        #expect(result.isComplete)
        #expect(result.good.isFull)
        #expect(result.bad.isEmpty)
        #expect(result.missing.isEmpty)
        #expect(checking.maximum == info.pieceSpaceSize)
    }

    @Test(arguments: TorrentVersion.allCases)
    func createdTorrentWithLargerPiecesVerifies(version: TorrentVersion) async throws {
        // Pieces of 64 KiB hold 4 leaves, so files of one piece have v2 trees narrower than a piece's.
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let tree = try SourceTree.make(in: base)
        let listing = try TorrentCreator.list(path: tree.root)
        let torrent = try await makeTorrent(listing, version, pieceLength: 65_536)
        let info = torrent.info
        #expect(info.pieceLength == 65_536)
        try expectHashesMatch(torrent) { tree.bytes(torrentPath: $0) }
        #expect(try await checkPieces(torrent, root: listing.parent).isComplete)

        var changed = try #require(tree.contents[["nested", "d"]])
        changed[70_000] ^= 0x10
        try writeFile(tree.diskPath(["nested", "d"]), changed)
        let entry = try #require(info.files.first(where: { $0.path == ["tree", "nested", "d"] }))
        let result = try await checkPieces(torrent, root: listing.parent)
        #expect(result.bad == [PieceIndex(Int((entry.offset + 70_000) / 65_536))])
        #expect(result.states.filter { $0 == .good }.count == info.pieceCount - 1)
    }

    @Test(arguments: TorrentVersion.allCases)
    func layoutOfEachVersion(version: TorrentVersion) async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let tree = try SourceTree.make(in: base)
        let torrent = try await makeTorrent(try TorrentCreator.list(path: tree.root), version)
        let files = torrent.info.files
        let piece = Int64(Self.pieceLength)

        if version.hasV2 {
            for file in files where !file.isPadding && file.length > 0 {
                #expect(file.offset % piece == 0, "\(file.path) at \(file.offset)")
            }
        }
        switch version {
        case .v1, .hybrid:
            // Files (and padding) follow each other with no gap.
            var offset: Int64 = 0
            for file in files {
                #expect(file.offset == offset, "\(file.path)")
                offset = file.end
            }
            #expect(offset == torrent.info.pieceSpaceSize)
            let padding = files.filter(\.isPadding)
            if version == .v1 {
                #expect(padding.isEmpty)
            } else {
                #expect(!padding.isEmpty)
                for file in padding {
                    #expect(file.length > 0 && file.length < piece, "\(file.path)")
                    #expect(file.end % piece == 0, "\(file.path)")
                }
            }
        case .v2:
            #expect(!files.contains(where: { $0.isPadding }))
        }
    }

    @Test func hybridAndV2AgreeOnTheV2Part() async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let tree = try SourceTree.make(in: base)
        let listing = try TorrentCreator.list(path: tree.root)
        let hybrid = try await makeTorrent(listing, .hybrid)
        let v2 = try await makeTorrent(listing, .v2)
        let hybridFiles = hybrid.info.files.filter { !$0.isPadding }
        #expect(hybridFiles.map(\.path) == v2.info.files.map(\.path))
        // Empty files occupy no bytes: only the offsets of files with data must agree.
        #expect(hybridFiles.filter { $0.length > 0 }.map(\.offset) == v2.info.files.filter { $0.length > 0 }.map(\.offset))
        #expect(hybridFiles.map(\.piecesRoot) == v2.info.files.map(\.piecesRoot))
        #expect(hybrid.pieceLayers == v2.pieceLayers)
        #expect(hybrid.info.pieceCount == v2.info.pieceCount)
    }

    @Test(arguments: TorrentVersion.allCases)
    func aFlippedByteMakesExactlyItsPieceBad(version: TorrentVersion) async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let tree = try SourceTree.make(in: base)
        let listing = try TorrentCreator.list(path: tree.root)
        let torrent = try await makeTorrent(listing, version)
        let info = torrent.info

        let sites: [(path: [String], offset: Int)] = [
            (["a.bin"], 39_999), (["nested", "d"], 20_000), ([".hidden"], 0), (["B.txt"], 16_383), (["Жук.txt"], 0),
        ]
        for site in sites {
            let original = try #require(tree.contents[site.path])
            var changed = original
            changed[site.offset] ^= 0x01
            try writeFile(tree.diskPath(site.path), changed)

            let entry = try #require(info.files.first(where: { $0.path == ["tree"] + site.path }))
            let piece = Int((entry.offset + Int64(site.offset)) / Int64(Self.pieceLength))
            let result = try await checkPieces(torrent, root: listing.parent)
            #expect(result.bad == [PieceIndex(piece)], "\(site.path) byte \(site.offset)")
            #expect(result.missing.isEmpty, "\(site.path) byte \(site.offset)")
            #expect(result.states.filter { $0 == .good }.count == info.pieceCount - 1)
            #expect(!result.good[PieceIndex(piece)])

            try writeFile(tree.diskPath(site.path), original)
        }
        let restored = try await checkPieces(torrent, root: listing.parent)
        #expect(restored.isComplete)
    }

    @Test(arguments: TorrentVersion.allCases)
    func truncatedOrDeletedFilesMakeTheirPiecesMissing(version: TorrentVersion) async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let tree = try SourceTree.make(in: base)
        let listing = try TorrentCreator.list(path: tree.root)
        let torrent = try await makeTorrent(listing, version)
        let info = torrent.info
        let layout = StorageLayout(info)

        // nested/d cut to 20,000 bytes: the pieces holding its bytes from there on are missing.
        let dIndex = try #require(info.files.firstIndex(where: { $0.path == ["tree", "nested", "d"] }))
        let d = info.files[dIndex]
        #expect(truncate(tree.diskPath(["nested", "d"]), 20_000) == 0)
        let cut = try await checkPieces(torrent, root: listing.parent)
        let cutMissing = layout.pieces(of: FileIndex(dIndex)).filter { layout.range(of: $0).upperBound > d.offset + 20_000 }
        #expect(!cutMissing.isEmpty)
        #expect(cut.missing == cutMissing)
        #expect(cut.bad.isEmpty)
        #expect(cut.states.filter { $0 == .good }.count == info.pieceCount - cutMissing.count)
        try writeFile(tree.diskPath(["nested", "d"]), try #require(tree.contents[["nested", "d"]]))

        // a.bin deleted: every piece holding some of its bytes is missing.
        let aIndex = try #require(info.files.firstIndex(where: { $0.path == ["tree", "a.bin"] }))
        try FileManager.default.removeItem(atPath: tree.diskPath(["a.bin"]))
        let deleted = try await checkPieces(torrent, root: listing.parent)
        let deletedMissing = Array(layout.pieces(of: FileIndex(aIndex)))
        #expect(deletedMissing.count >= 3)
        #expect(deleted.missing == deletedMissing)
        #expect(deleted.bad.isEmpty)
        #expect(deleted.states.filter { $0 == .good }.count == info.pieceCount - deletedMissing.count)
        #expect(!FileManager.default.fileExists(atPath: tree.diskPath(["a.bin"])), "checking does not recreate it")

        // The whole tree gone: everything is missing.
        try FileManager.default.removeItem(atPath: tree.root)
        let gone = try await checkPieces(torrent, root: listing.parent)
        #expect(gone.states == [PieceState](repeating: .missing, count: info.pieceCount))
        #expect(gone.good.setCount == 0)
        #expect(!FileManager.default.fileExists(atPath: tree.root), "checking creates nothing")
    }

    @Test(arguments: [TorrentVersion.v2, .hybrid])
    func v2PiecesNeedTheirPieceLayer(version: TorrentVersion) async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let tree = try SourceTree.make(in: base)
        let listing = try TorrentCreator.list(path: tree.root)
        let torrent = try await makeTorrent(listing, version)
        let info = torrent.info
        let layout = StorageLayout(info)

        // A wrong hash in nested/d's layer makes that piece bad, even though a hybrid's SHA-1 still matches.
        let d = try #require(info.files.first(where: { $0.path == ["tree", "nested", "d"] }))
        let root = try #require(d.piecesRoot)
        var tampered = torrent
        var layer = try #require(tampered.pieceLayers[root])
        #expect(layer.count == 5)
        layer[2] = SHA256Hash.zero
        tampered.pieceLayers[root] = layer
        let result = try await checkPieces(tampered, root: listing.parent)
        #expect(result.bad == [PieceIndex(Int(d.offset) / Self.pieceLength + 2)])
        #expect(result.missing.isEmpty)

        // Without any layers (as from a magnet link), a v2 torrent can verify only the pieces of files of at most
        // one piece; a hybrid verifies every piece by its SHA-1s, as libtorrent does.
        var bare = torrent
        bare.pieceLayers = [:]
        let bareResult = try await checkPieces(bare, root: listing.parent)
        var expectedBad: [PieceIndex] = []
        for (i, file) in info.files.enumerated() where !file.isPadding && file.length > Int64(Self.pieceLength) {
            expectedBad += Array(layout.pieces(of: FileIndex(i)))
        }
        #expect(expectedBad.count == 3 + 5)  // a.bin and nested/d
        #expect(bareResult.bad == (version == .hybrid ? [] : expectedBad.sorted()))
        #expect(bareResult.missing.isEmpty)
    }

    @Test(arguments: TorrentVersion.allCases)
    func singleFileTorrent(version: TorrentVersion) async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let name = "single file.bin"
        let path = base + "/" + name
        let bytes = patternBytes(50_000, seed: 200)
        try writeFile(path, bytes)

        let listing = try TorrentCreator.list(path: path)
        #expect(listing.isSingleFile)
        #expect(listing.name == name)
        #expect(listing.files == [TorrentDraft.SourceFile(path: [name], length: 50_000)])

        let torrent = try await makeTorrent(listing, version)
        let info = torrent.info
        #expect(info.isSingleFile)
        #expect(info.name == name)
        #expect(info.files.count == 1)
        #expect(info.files.first?.path == [name])
        #expect(info.files.first?.offset == 0)
        #expect(info.files.first?.length == 50_000)
        #expect(info.pieceCount == 4)
        #expect(info.pieceSpaceSize == (version == .v2 ? 65_536 : 50_000))
        try expectHashesMatch(torrent) { $0 == [name] ? bytes : nil }
        if version.hasV1 { #expect(info.infoHashes.v1 == SHA1Hash.of(info.rawBytes)) }

        #expect(try await checkPieces(torrent, root: listing.parent).isComplete)

        var changed = bytes
        changed[49_999] ^= 0x80
        try writeFile(path, changed)
        let flipped = try await checkPieces(torrent, root: listing.parent)
        #expect(flipped.bad == [3])
        #expect(flipped.states.filter { $0 == .good }.count == 3)

        try writeFile(path, Array(bytes[..<16_384]))
        let short = try await checkPieces(torrent, root: listing.parent)
        #expect(short.states == [.good, .missing, .missing, .missing])
    }

    @Test func optionsReachTheTorrent() async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let tree = try SourceTree.make(in: base)
        var options = TorrentCreator.Options()
        options.metadata.trackers = [["http://tracker.example/announce"], ["udp://backup.example:6969"]]
        options.metadata.webSeeds = ["http://seed.example/"]
        options.metadata.comment = "a comment"
        options.metadata.createdBy = "Shoal tests"
        options.metadata.creationDate = 1_700_000_000
        options.metadata.isPrivate = true
        options.metadata.source = "TEST"
        options.threads = 2
        // No piece length: one is picked from the total size (16 KiB for so little data).
        let torrent = try await TorrentCreator(options: options).create(try TorrentCreator.list(path: tree.root))
        #expect(torrent.info.version == .hybrid)
        #expect(torrent.info.pieceLength == TorrentDraft.automaticPieceLength(totalSize: SourceTree.totalSize))
        #expect(torrent.info.pieceLength == 16_384)
        #expect(torrent.trackers == options.metadata.trackers)
        #expect(torrent.webSeeds == options.metadata.webSeeds)
        #expect(torrent.comment == "a comment")
        #expect(torrent.createdBy == "Shoal tests")
        #expect(torrent.creationDate == 1_700_000_000)
        #expect(torrent.info.isPrivate)
        #expect(torrent.info.source == "TEST")
        #expect(try await checkPieces(torrent, root: base).isComplete)
    }

    @Test func aTorrentOfNoDataCannotBeMade() async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let empty = base + "/empty-tree"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let hollow = base + "/hollow"
        try writeFile(hollow + "/a", [])
        try writeFile(hollow + "/sub/b", [])
        try FileManager.default.createSymbolicLink(atPath: hollow + "/link", withDestinationPath: base + "/elsewhere")

        let emptyListing = try TorrentCreator.list(path: empty)
        #expect(emptyListing.files.isEmpty)
        let hollowListing = try TorrentCreator.list(path: hollow)
        #expect(hollowListing.files.map(\.path) == [["a"], ["sub", "b"]])

        for listing in [emptyListing, hollowListing] {
            for version in TorrentVersion.allCases {
                let error = await #expect(throws: TorrentCreationError.self, "\(listing.name) \(version)") {
                    try await makeTorrent(listing, version)
                }
                if case .metainfo? = error {} else {
                    Issue.record("expected TorrentCreationError.metainfo, got \(String(describing: error))")
                }
            }
        }
    }

    @Test func listingRefusesASymlinkAndAMissingPath() throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        try writeFile(base + "/real.bin", [1, 2, 3])
        try FileManager.default.createSymbolicLink(atPath: base + "/link.bin", withDestinationPath: base + "/real.bin")

        let linkError = #expect(throws: StorageError.self) { try TorrentCreator.list(path: base + "/link.bin") }
        #expect(linkError?.reason == .unexpectedFileType)

        let missingError = #expect(throws: StorageError.self) { try TorrentCreator.list(path: base + "/nope") }
        if case .system(let operation, let code)? = missingError?.reason {
            #expect(operation == "stat")
            #expect(code == ENOENT)
        } else {
            Issue.record("expected a system error, got \(String(describing: missingError))")
        }
    }

    @Test func checkingWithAFailingBackendThrows() async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let tree = try SourceTree.make(in: base)
        let torrent = try await makeTorrent(try TorrentCreator.list(path: tree.root), .hybrid)
        let checker = PieceChecker(torrent: torrent,
                                   storage: PieceStorage(layout: StorageLayout(torrent.info), backend: FailingBackend()),
                                   threads: 2)
        let error = await #expect(throws: StorageError.self) { try await checker.check() }
        #expect(error == FailingBackend.error)
    }

    @Test func checkingAgainstMemoryStorageAgreesWithFiles() async throws {
        let base = try makeTemporaryFolder()
        defer { removeTemporaryFolder(base) }
        let tree = try SourceTree.make(in: base)
        let torrent = try await makeTorrent(try TorrentCreator.list(path: tree.root), .hybrid)
        var contents: [FileIndex: [UInt8]] = [:]
        for (i, file) in torrent.info.files.enumerated() where !file.isPadding && file.length > 0 {
            contents[FileIndex(i)] = tree.bytes(torrentPath: file.path)
        }
        let aIndex = try #require(torrent.info.files.firstIndex(where: { $0.path == ["tree", "a.bin"] }))
        contents[FileIndex(aIndex)] = nil
        let storage = PieceStorage(layout: StorageLayout(torrent.info), backend: MemoryStorage(files: contents))
        let result = try await PieceChecker(torrent: torrent, storage: storage, threads: 3).check()
        #expect(result.missing == Array(StorageLayout(torrent.info).pieces(of: FileIndex(aIndex))))
        #expect(result.bad.isEmpty)
    }
}
