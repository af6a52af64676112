import Foundation
import Testing

/// Torrents made by Shoal load and verify in libtorrent and Transmission; torrents made by libtorrent and
/// mktorrent load and verify in Shoal, which names exactly the piece a flipped byte spoils.
@Suite(.serialized)
struct TorrentFileInteropTests {
    enum Shape: String, CaseIterable, Sendable {
        case single, multi
    }

    /// A payload with nested folders, non-ASCII names, zero-length files and sizes that straddle pieces.
    static func makePayload(_ shape: Shape, in folder: TemporaryFolder) throws -> URL {
        switch shape {
        case .single:
            return try folder.file("data/ünïcødé single.bin", size: 300_001)
        case .multi:
            try folder.file("data/payload/a.bin", size: 100_000, seed: 1)
            try folder.file("data/payload/sub/b.txt", size: 40_000, seed: 2)
            try folder.file("data/payload/sub/deeper/c.dat", size: 70_001, seed: 3)
            try folder.file("data/payload/sub/empty.txt", size: 0)
            try folder.file("data/payload/zero-first/0empty", size: 0)
            try folder.file("data/payload/ünïcødé/日本.txt", size: 1_234, seed: 4)
            return folder.url.appendingPathComponent("data/payload")
        }
    }

    static func shoalInfo(_ torrent: URL) throws -> ShoalInfo {
        let result = try Tools.runShoal(["info", "--json", torrent.path])
        #expect(result.status == 0, "shoal info failed: \(result.stderr)")
        return try JSONDecoder().decode(ShoalInfo.self, from: Data(result.stdout.utf8))
    }

    static func shoalVerify(_ torrent: URL, _ folder: URL) throws -> (ProcessResult, ShoalVerify) {
        let result = try Tools.runShoal(["verify", "--json", torrent.path, folder.path])
        return (result, try JSONDecoder().decode(ShoalVerify.self, from: Data(result.stdout.utf8)))
    }

    /// Data files (no padding) as "path:length", in torrent order.
    static func dataFiles(_ files: [[String: Any]]) -> [String] {
        files.filter { ($0["padding"] as? Bool) != true }.map { "\($0["path"] as? String ?? "?"):\($0["length"] as? Int ?? -1)" }
    }

    static func dataFiles(_ files: [ShoalInfo.File]) -> [String] {
        files.filter { !$0.padding }.map { "\($0.path):\($0.length)" }
    }

    @Test("A torrent made by shoal create loads in libtorrent with the same hashes and files, and verifies there",
          arguments: ["v1", "v2", "hybrid"], Shape.allCases)
    func shoalTorrentLoadsInLibtorrent(version: String, shape: Shape) throws {
        let folder = try TemporaryFolder()
        let payload = try Self.makePayload(shape, in: folder)
        let torrent = folder.url.appendingPathComponent("made.torrent")
        let created = try Tools.runShoal(["create", payload.path, "--\(version)", "--piece-size", "32k", "-o", torrent.path,
                                          "--tracker", "http://127.0.0.1:1/announce", "--comment", "interop"])
        #expect(created.status == 0, "shoal create failed: \(created.stderr)")

        let ours = try Self.shoalInfo(torrent)
        let theirs = try Tools.libtorrent(["info", torrent.path])
        #expect(theirs["v1"] as? String == ours.infoHashV1)
        #expect(theirs["v2"] as? String == ours.infoHashV2)
        #expect((ours.infoHashV1 != nil) == (version != "v2"))
        #expect((ours.infoHashV2 != nil) == (version != "v1"))
        #expect(theirs["name"] as? String == ours.name)
        #expect(theirs["pieceCount"] as? Int == ours.pieceCount)
        #expect(theirs["totalSize"] as? Int == ours.totalSize.map(Int.init))
        let theirFiles = try #require(theirs["files"] as? [[String: Any]])
        #expect(Self.dataFiles(theirFiles) == Self.dataFiles(try #require(ours.files)))

        let check = try Tools.libtorrent(["check", torrent.path, payload.deletingLastPathComponent().path, "--timeout", "120"])
        #expect(check["have"] as? Int == ours.pieceCount, "libtorrent did not verify every piece: \(check)")

        if version == "v1" {
            let shown = try runTool(Tools.transmissionShow, [torrent.path])
            #expect(shown.status == 0, "transmission-show failed: \(shown.stderr)")
            #expect(shown.stdout.contains("Hash: \(try #require(ours.infoHashV1))"))
            for file in try #require(ours.files) where !file.padding {
                #expect(shown.stdout.contains(file.path), "transmission-show does not list \(file.path)")
            }
        }
    }

    @Test("A torrent made by libtorrent loads in shoal with the same hashes and files; a flipped byte names its piece",
          arguments: ["v1", "v2", "hybrid"], Shape.allCases)
    func libtorrentTorrentLoadsInShoal(version: String, shape: Shape) throws {
        let folder = try TemporaryFolder()
        let payload = try Self.makePayload(shape, in: folder)
        let torrent = folder.url.appendingPathComponent("lt.torrent")
        _ = try Tools.libtorrent(["create", payload.path, torrent.path, "--\(version)", "--piece-size", "32768"])

        let ours = try Self.shoalInfo(torrent)
        let theirs = try Tools.libtorrent(["info", torrent.path])
        #expect(theirs["v1"] as? String == ours.infoHashV1)
        #expect(theirs["v2"] as? String == ours.infoHashV2)
        #expect(theirs["pieceCount"] as? Int == ours.pieceCount)
        let theirFiles = try #require(theirs["files"] as? [[String: Any]])
        #expect(Self.dataFiles(theirFiles) == Self.dataFiles(try #require(ours.files)))
        if version == "hybrid", shape == .multi {
            // libtorrent's hybrids carry BEP 47 padding files; Shoal must see them as padding too.
            #expect(try #require(ours.files).contains { $0.padding })
        }

        let root = payload.deletingLastPathComponent()
        let (verified, report) = try Self.shoalVerify(torrent, root)
        #expect(verified.status == 0)
        #expect(report.good == ours.pieceCount && report.bad.isEmpty && report.missing.isEmpty)

        // The first data file starts at offset 0 in every format, so byte 40,000 of it lies in piece 40,000 / 32 KiB.
        let firstFile = shape == .single ? payload : payload.appendingPathComponent("a.bin")
        try flipByte(in: firstFile, at: 40_000)
        let (spoiled, spoiledReport) = try Self.shoalVerify(torrent, root)
        #expect(spoiled.status == 1)
        #expect(spoiledReport.bad == [40_000 / 32_768])
        #expect(spoiledReport.missing.isEmpty)
        #expect(spoiledReport.good == (ours.pieceCount ?? 0) - 1)
    }

    @Test("A torrent made by mktorrent loads in shoal like in libtorrent, verifies, and a flipped byte names its piece")
    func mktorrentTorrentLoadsInShoal() throws {
        let folder = try TemporaryFolder()
        let payload = try Self.makePayload(.multi, in: folder)
        let torrent = folder.url.appendingPathComponent("mk.torrent")
        let made = try runTool(Tools.mktorrent, ["-l", "15", "-a", "http://127.0.0.1:1/announce,http://127.0.0.1:2/announce",
                                                 "-a", "udp://127.0.0.1:3", "-w", "http://127.0.0.1:4/ws", "-c", "made by mktorrent",
                                                 "-o", torrent.path, payload.path])
        #expect(made.status == 0, "mktorrent failed: \(made.stderr)")

        let ours = try Self.shoalInfo(torrent)
        let theirs = try Tools.libtorrent(["info", torrent.path])
        #expect(theirs["v1"] as? String == ours.infoHashV1)
        #expect(ours.infoHashV2 == nil)
        #expect(ours.trackers == [["http://127.0.0.1:1/announce", "http://127.0.0.1:2/announce"], ["udp://127.0.0.1:3"]])
        #expect(ours.webSeeds == ["http://127.0.0.1:4/ws"])
        let theirFiles = try #require(theirs["files"] as? [[String: Any]])
        #expect(Self.dataFiles(theirFiles) == Self.dataFiles(try #require(ours.files)))

        let root = payload.deletingLastPathComponent()
        let (verified, _) = try Self.shoalVerify(torrent, root)
        #expect(verified.status == 0)

        // Find the file's offset from the listed order: v1 files follow each other with no gaps.
        let files = try #require(ours.files)
        let target = try #require(files.firstIndex { $0.path.hasSuffix("sub/deeper/c.dat") })
        let offset = files[..<target].reduce(Int64(0)) { $0 + $1.length }
        try flipByte(in: payload.appendingPathComponent("sub/deeper/c.dat"), at: 50_000)
        let (spoiled, report) = try Self.shoalVerify(torrent, root)
        #expect(spoiled.status == 1)
        #expect(report.bad == [Int((offset + 50_000) / 32_768)])

        try FileManager.default.removeItem(at: payload.appendingPathComponent("ünïcødé/日本.txt"))
        let (missing, missingReport) = try Self.shoalVerify(torrent, root)
        #expect(missing.status == 1)
        #expect(missingReport.missing == [try #require(ours.pieceCount) - 1])
    }

    @Test("Bad input gives one line on stderr and exit status 2, and no output file")
    func badInputIsRefused() throws {
        let folder = try TemporaryFolder()
        let cases: [(String, [UInt8])] = [
            ("truncated", Array("d8:announce3:abc4:infod4:name".utf8)),
            ("deep", [UInt8](repeating: UInt8(ascii: "l"), count: 10_000)),
            ("garbage", [0xff, 0x00, 0x13]),
            ("no hashes", Array("d4:infod5:filesld6:lengthi1e4:pathl1:aeee4:name1:x12:piece lengthi16384e6:pieces0:ee".utf8)),
        ]
        for (name, bytes) in cases {
            let file = folder.url.appendingPathComponent("\(name).torrent")
            try Data(bytes).write(to: file)
            let result = try Tools.runShoal(["info", file.path])
            #expect(result.status == 2, "\(name): exit \(result.status)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(name): \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
        // A path that tries to climb out loads with the climb removed, by the documented rule.
        let escape = folder.url.appendingPathComponent("escape.torrent")
        try Data(("d4:infod5:filesld6:lengthi1e4:pathl2:..2:..6:passwdeee4:name2:..12:piece lengthi16384e6:pieces20:"
                  + String(repeating: "a", count: 20) + "ee").utf8).write(to: escape)
        let loaded = try Tools.runShoal(["info", "--json", escape.path])
        #expect(loaded.status == 0, "\(loaded.stderr)")
        let info = try JSONDecoder().decode(ShoalInfo.self, from: Data(loaded.stdout.utf8))
        #expect(info.files?.map(\.path) == ["_/passwd"])

        // A device is not a torrent file, and is not read without end.
        let device = try Tools.runShoal(["info", "/dev/zero"])
        #expect(device.status == 2)
        #expect(device.stderr.contains("not a regular file"))

        let magnet = try Tools.runShoal(["info", "magnet:?xt=urn:btih:1234"])
        #expect(magnet.status == 2)
        #expect(magnet.stderr.contains("btih"))

        // A folder with no data makes no torrent, and leaves no file behind.
        let empty = folder.url.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let output = folder.url.appendingPathComponent("out.torrent")
        let created = try Tools.runShoal(["create", empty.path, "-o", output.path])
        #expect(created.status == 2)
        #expect(!FileManager.default.fileExists(atPath: output.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.url.path).allSatisfy { !$0.contains("partial") })
    }
}
