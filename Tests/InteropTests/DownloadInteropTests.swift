import Foundation
import Testing

/// `shoal download` against a real libtorrent seeder on loopback.
@Suite(.serialized)
struct DownloadInteropTests {
    /// Starts a libtorrent seeder for `torrent` with its data in `folder`, returning it and its port.
    static func seeder(_ torrent: URL, data folder: URL) throws -> (BackgroundTool, Int) {
        let seeder = try BackgroundTool(Tools.python, [Tools.ltTool, "seed", torrent.path, folder.path])
        let line = try #require(seeder.firstLine(), "libtorrent seeder did not start")
        let port = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Int])?["port"])
        return (seeder, port)
    }

    static func makePayload(in folder: TemporaryFolder) throws -> URL {
        try folder.file("src/payload/a.bin", size: 300_001, seed: 21)
        try folder.file("src/payload/sub/b.txt", size: 70_000, seed: 22)
        try folder.file("src/payload/sub/empty", size: 0)
        try folder.file("src/payload/ünïcødé.dat", size: 45_000, seed: 23)
        return folder.url.appendingPathComponent("src/payload")
    }

    static func sameTree(_ a: URL, _ b: URL) throws -> Bool {
        let files = FileManager.default.enumerator(atPath: a.path)?.compactMap { $0 as? String } ?? []
        for file in files {
            var isFolder: ObjCBool = false
            FileManager.default.fileExists(atPath: a.appendingPathComponent(file).path, isDirectory: &isFolder)
            if isFolder.boolValue { continue }
            guard FileManager.default.contentsEqual(atPath: a.appendingPathComponent(file).path,
                                                    andPath: b.appendingPathComponent(file).path) else { return false }
        }
        return !files.isEmpty
    }

    @Test("shoal download fetches a multi-file torrent from libtorrent; the bytes on disk equal the source",
          arguments: ["v1", "v2", "hybrid"])
    func downloadFromLibtorrent(version: String) throws {
        let folder = try TemporaryFolder()
        let payload = try Self.makePayload(in: folder)
        let torrent = folder.url.appendingPathComponent("t.torrent")
        let created = try Tools.runShoal(["create", payload.path, "--\(version)", "--piece-size", "16k", "-o", torrent.path])
        #expect(created.status == 0, "\(created.stderr)")
        let (seeder, port) = try Self.seeder(torrent, data: payload.deletingLastPathComponent())
        defer { withExtendedLifetime(seeder) {} }

        let output = folder.url.appendingPathComponent("out")
        let result = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--peer", "127.0.0.1:\(port)"])
        #expect(result.status == 0, "shoal download failed: \(result.stderr)")
        #expect(try Self.sameTree(payload, output.appendingPathComponent("payload")))
        #expect(FileManager.default.fileExists(atPath: output.appendingPathComponent("payload/sub/empty").path))
        #expect(result.stderr.contains("LT 2."), "the seeder is libtorrent: \(result.stderr)")
    }

    @Test("--files downloads only the chosen file (and the pieces it shares), and exits 0 once that file is whole")
    func selectedFilesOnly() throws {
        let folder = try TemporaryFolder()
        let payload = try Self.makePayload(in: folder)
        let torrent = folder.url.appendingPathComponent("t.torrent")
        _ = try Tools.runShoal(["create", payload.path, "--v1", "--piece-size", "16k", "-o", torrent.path])
        let (seeder, port) = try Self.seeder(torrent, data: payload.deletingLastPathComponent())
        defer { withExtendedLifetime(seeder) {} }
        // shoal info numbers the files a.bin, sub/b.txt, sub/empty, ünïcødé.dat: 2 is sub/b.txt, 70,000 bytes
        // from offset 300,001, so pieces 18 to 22 of 26.
        let output = folder.url.appendingPathComponent("out")
        let result = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--peer", "127.0.0.1:\(port)", "--files", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: payload.appendingPathComponent("sub/b.txt").path,
                                                  andPath: output.appendingPathComponent("payload/sub/b.txt").path))
        #expect(result.stdout.contains("5 of 26 pieces verified, 5 downloaded"), "\(result.stdout)")
        // The neighbours get only what the shared pieces 18 and 22 hold (in sparse files): neither is whole.
        for neighbour in ["a.bin", "ünïcødé.dat"] {
            #expect(!FileManager.default.contentsEqual(atPath: payload.appendingPathComponent(neighbour).path,
                                                       andPath: output.appendingPathComponent("payload/\(neighbour)").path))
        }
    }

    @Test("A download resumed over partial data fetches only the pieces that are missing")
    func resumeFetchesOnlyWhatIsMissing() throws {
        let folder = try TemporaryFolder()
        let payload = try Self.makePayload(in: folder)
        let torrent = folder.url.appendingPathComponent("t.torrent")
        _ = try Tools.runShoal(["create", payload.path, "--v1", "--piece-size", "16k", "-o", torrent.path])
        // The output already holds everything but the last file (45,000 bytes at the end: its pieces only).
        let output = folder.url.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: payload, to: output.appendingPathComponent("payload"))
        try FileManager.default.removeItem(at: output.appendingPathComponent("payload/ünïcødé.dat"))

        let (seeder, port) = try Self.seeder(torrent, data: payload.deletingLastPathComponent())
        defer { withExtendedLifetime(seeder) {} }
        let result = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--peer", "127.0.0.1:\(port)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.sameTree(payload, output.appendingPathComponent("payload")))
        // Files in order: a.bin 300,001, sub/b.txt 70,000, sub/empty 0, ünïcødé.dat 45,000 (the sort puts the
        // non-ASCII name last): the missing file starts at 370,001, so pieces 22…25 are the ones to fetch.
        let total = 300_001 + 70_000 + 45_000
        let firstMissing = 370_001 / 16_384
        let expected = (total + 16_383) / 16_384 - firstMissing
        #expect(result.stdout.contains("\(expected) downloaded"), "\(result.stdout)")
    }

    @Test("shoal download takes an http URL of the torrent; a missing or unusable one is bad input (exit 2)")
    func torrentFromAWebServer() throws {
        let folder = try TemporaryFolder()
        let payload = try Self.makePayload(in: folder)
        let site = folder.url.appendingPathComponent("site")
        try FileManager.default.createDirectory(at: site, withIntermediateDirectories: true)
        let torrent = site.appendingPathComponent("t.torrent")
        _ = try Tools.runShoal(["create", payload.path, "--v1", "--piece-size", "16k", "-o", torrent.path])
        try Data("not bencode".utf8).write(to: site.appendingPathComponent("junk.torrent"))
        // Python's own web server on loopback: it prints "Serving HTTP on 127.0.0.1 port N ..." once bound.
        let server = try BackgroundTool(Tools.python, ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", site.path])
        defer { withExtendedLifetime(server) {} }
        let line = try #require(server.firstLine(), "the web server did not start")
        let words = line.split(separator: " ")
        let webPort = try #require(words.firstIndex(of: "port").flatMap { Int(words[$0 + 1]) }, "\(line)")
        let (seeder, port) = try Self.seeder(torrent, data: payload.deletingLastPathComponent())
        defer { withExtendedLifetime(seeder) {} }

        let output = folder.url.appendingPathComponent("out")
        let result = try Tools.runShoal(["download", "http://127.0.0.1:\(webPort)/t.torrent", "-o", output.path,
                                         "--peer", "127.0.0.1:\(port)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try Self.sameTree(payload, output.appendingPathComponent("payload")))

        let missing = try Tools.runShoal(["download", "http://127.0.0.1:\(webPort)/none.torrent", "-o", output.path])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("404"), "\(missing.stderr)")
        let junk = try Tools.runShoal(["download", "http://127.0.0.1:\(webPort)/junk.torrent", "-o", output.path])
        #expect(junk.status == 2, "\(junk.stderr)")
    }

    @Test("A magnet link with no source ends with a clear line (exit 1); malformed links and peers are bad input (exit 2)")
    func magnetLinksAndBadPeersAreRefusedClearly() throws {
        // No x.pe, no tracker, and the tests keep the DHT and local discovery off: nobody can give the metadata.
        let magnet = try Tools.runShoal(["download", "magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a", "--port", "0"])
        #expect(magnet.status == 1)
        #expect(magnet.stderr.contains("no peer gave the torrent's metadata"), "\(magnet.stderr)")
        let malformed = try Tools.runShoal(["download", "magnet:?xt=urn:btih:c12f"])
        #expect(malformed.status == 2)
        #expect(malformed.stderr.contains("invalid magnet link"), "\(malformed.stderr)")
        let folder = try TemporaryFolder()
        let file = try folder.file("x.bin", size: 1000)
        let torrent = folder.url.appendingPathComponent("x.torrent")
        _ = try Tools.runShoal(["create", file.path, "-o", torrent.path])
        let badPeer = try Tools.runShoal(["download", torrent.path, "-o", folder.url.appendingPathComponent("o").path, "--peer", "nonsense"])
        #expect(badPeer.status == 2)
    }
}
