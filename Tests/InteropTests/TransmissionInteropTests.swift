import Foundation
import Testing

/// Shoal and a real Transmission 3.00 (transmission-cli, run by Support/tr_tool.py) on loopback, both ways.
/// Transmission 3.00 reads v1 torrents only and does not connect out to peers nobody told it about, so
/// Shoal connects to Transmission's port each time.
@Suite(.serialized)
struct TransmissionInteropTests {
    static var trTool: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Support/tr_tool.py").path
    }

    /// Starts Transmission (`mode` is "seed" or "download") for `torrent` in `folder`, with its settings, resume
    /// data and log in `config`; returns it, once the torrent runs, with its peer port.
    static func transmission(_ mode: String, _ torrent: URL, _ folder: URL, config: URL) throws -> (BackgroundTool, Int) {
        let tool = try BackgroundTool(Tools.python, [trTool, mode, torrent.path, folder.path, config.path])
        let line = tool.firstLine(timeout: 60) ?? ""
        let port = try #require((try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Int])?["port"],
                                "Transmission did not start: \(log(config))")
        return (tool, port)
    }

    /// The end of Transmission's log, for failure messages.
    static func log(_ config: URL) -> String {
        String(((try? String(contentsOf: config.appendingPathComponent("log.txt"), encoding: .utf8)) ?? "").suffix(2000))
    }

    /// A v1 torrent of files of odd sizes over 32 KiB pieces; none is empty, as Transmission 3.00 does not
    /// create zero-length files.
    static func makeTorrent(in folder: TemporaryFolder) throws -> (payload: URL, torrent: URL) {
        try folder.file("src/payload/a.bin", size: 200_003, seed: 31)
        try folder.file("src/payload/sub/b.txt", size: 65_537, seed: 32)
        try folder.file("src/payload/sub/c", size: 1, seed: 33)
        try folder.file("src/payload/ünïcødé.dat", size: 31_111, seed: 34)
        let payload = folder.url.appendingPathComponent("src/payload")
        let torrent = folder.url.appendingPathComponent("t.torrent")
        let created = try Tools.runShoal(["create", payload.path, "--v1", "--piece-size", "32k", "-o", torrent.path])
        #expect(created.status == 0, "\(created.stderr)")
        return (payload, torrent)
    }

    @Test("Transmission downloads from a Shoal seeder that connects to it; the bytes on disk equal the source")
    func transmissionDownloadsFromShoal() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent) = try Self.makeTorrent(in: folder)
        let output = folder.url.appendingPathComponent("tr-out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let config = folder.url.appendingPathComponent("tr-config")
        let (transmission, port) = try Self.transmission("download", torrent, output, config: config)
        let seeder = try BackgroundTool(Tools.shoal, ["seed", torrent.path, payload.deletingLastPathComponent().path,
                                                      "--port", "0", "--peer", "127.0.0.1:\(port)"])
        defer { withExtendedLifetime((transmission, seeder)) {} }
        _ = try #require(seeder.firstLine(), "shoal seed did not start")

        // Transmission 3.00 says it is interested only at its next rechoke, up to 10 s after the handshake.
        let deadline = Date().addingTimeInterval(60)
        var done = false
        while !done, Date() < deadline {
            done = try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload"))
            if !done { usleep(250_000) }
        }
        #expect(done, "Transmission did not get the files within 60 s: \(Self.log(config))")
    }

    @Test("Shoal downloads from a Transmission seeder; the bytes on disk equal the source")
    func shoalDownloadsFromTransmission() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent) = try Self.makeTorrent(in: folder)
        let config = folder.url.appendingPathComponent("tr-config")
        let (transmission, port) = try Self.transmission("seed", torrent, payload.deletingLastPathComponent(), config: config)
        defer { withExtendedLifetime(transmission) {} }

        let output = folder.url.appendingPathComponent("out")
        let result = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--peer", "127.0.0.1:\(port)"])
        #expect(result.status == 0, "shoal download failed: \(result.stderr)\n\(Self.log(config))")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
        #expect(result.stderr.contains("TR 3."), "the seeder is Transmission: \(result.stderr)")
    }
}
