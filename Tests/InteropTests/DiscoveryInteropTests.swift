import Foundation
import Testing

/// Finding peers with no central server, against real clients on loopback: magnet links (BEP 9) both ways with
/// libtorrent and with Transmission, the DHT (BEP 5) in a network of libtorrent and Shoal nodes, peer exchange
/// (BEP 11) from libtorrent, and local service discovery (BEP 14) on `lo`.
@Suite(.serialized)
struct DiscoveryInteropTests {
    /// Starts lt_tool.py in the background and returns it with the port of its first line, `{"port": N}`.
    static func libtorrent(_ arguments: [String], errors: URL? = nil) throws -> (BackgroundTool, Int) {
        let tool = try BackgroundTool(Tools.python, [Tools.ltTool] + arguments, errors: errors)
        let line = try #require(tool.firstLine(timeout: 60), "lt_tool \(arguments.first ?? "") did not start")
        let port = try #require((try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Int])?["port"], "\(line)")
        return (tool, port)
    }

    /// Starts `shoal seed` in the background and returns it with its port.
    static func shoalSeeder(_ torrent: URL, data folder: URL, _ extra: [String] = [], errors: URL? = nil) throws -> (BackgroundTool, Int) {
        let seeder = try BackgroundTool(Tools.shoal, ["seed", torrent.path, folder.path, "--port", "0"] + extra, errors: errors)
        let line = try #require(seeder.firstLine(timeout: 60), "shoal seed did not start")
        let port = try #require(line.split(separator: " ").last.flatMap { Int($0) }, "\(line)")
        return (seeder, port)
    }

    /// A payload and its torrent (`version` v1, v2 or hybrid), with the torrent's magnet link.
    static func torrent(_ version: String, in folder: TemporaryFolder, size: Int = 300_001) throws -> (payload: URL, torrent: URL, magnet: String) {
        try folder.file("src/payload/a.bin", size: size, seed: 41)
        try folder.file("src/payload/sub/b.txt", size: 70_000, seed: 42)
        let payload = folder.url.appendingPathComponent("src/payload")
        let torrent = folder.url.appendingPathComponent("t.torrent")
        let created = try Tools.runShoal(["create", payload.path, "--\(version)", "--piece-size", "16k", "-o", torrent.path])
        #expect(created.status == 0, "\(created.stderr)")
        let info = try JSONDecoder().decode(ShoalInfo.self, from: Data(try Tools.runShoal(["info", "--json", torrent.path]).stdout.utf8))
        return (payload, torrent, info.magnet)
    }

    /// Waits until `condition` holds, at most `seconds`.
    static func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(200_000)
        }
        return try condition()
    }

    static func text(_ file: URL) -> String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

    // MARK: Magnet links

    @Test("shoal download of a magnet link whose only peer (x.pe) is a libtorrent seeder: metadata, then the files",
          arguments: ["v1", "hybrid"])
    func magnetFromLibtorrent(version: String) throws {
        let folder = try TemporaryFolder()
        let (payload, torrent, magnet) = try Self.torrent(version, in: folder)
        let (seeder, port) = try Self.libtorrent(["seed", torrent.path, payload.deletingLastPathComponent().path])
        defer { withExtendedLifetime(seeder) {} }
        let output = folder.url.appendingPathComponent("out")
        let result = try Tools.runShoal(["download", magnet + "&x.pe=127.0.0.1:\(port)", "-o", output.path, "--port", "0"], timeout: 120)
        #expect(result.status == 0, "shoal download failed: \(result.stderr)")
        #expect(result.stderr.contains("metadata received from 127.0.0.1:\(port)"), "\(result.stderr)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
    }

    @Test("libtorrent downloads a magnet link from a Shoal seeder: Shoal serves the metadata (ut_metadata) and the data",
          arguments: ["v1", "hybrid"])
    func libtorrentMagnetFromShoal(version: String) throws {
        let folder = try TemporaryFolder()
        let (payload, torrent, magnet) = try Self.torrent(version, in: folder)
        let (seeder, port) = try Self.shoalSeeder(torrent, data: payload.deletingLastPathComponent())
        defer { withExtendedLifetime(seeder) {} }
        let output = folder.url.appendingPathComponent("lt-out")
        let result = try Tools.libtorrent(["download-magnet", magnet, output.path, "--peer", "127.0.0.1:\(port)", "--plain", "--timeout", "60"])
        #expect(result["error"] is NSNull, "\(result)")
        #expect(result["metadataSeconds"] is Double, "\(result)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
    }

    @Test("shoal info --fetch reads a magnet link's metadata from a Transmission seeder; Transmission fetches one from Shoal")
    func transmissionMetadataBothWays() throws {
        let folder = try TemporaryFolder()
        // Transmission 3.00 reads v1 metadata only.
        let (payload, torrent, magnet) = try Self.torrent("v1", in: folder)
        let config = folder.url.appendingPathComponent("tr-seed")
        let (transmission, port) = try TransmissionInteropTests.transmission("seed", torrent, payload.deletingLastPathComponent(), config: config)
        let fetched = try Tools.runShoal(["info", "--fetch", "--json", magnet, "--peer", "127.0.0.1:\(port)"], timeout: 60)
        #expect(fetched.status == 0, "\(fetched.stderr)")
        let original = try JSONDecoder().decode(ShoalInfo.self, from: Data(try Tools.runShoal(["info", "--json", torrent.path]).stdout.utf8))
        let info = try JSONDecoder().decode(ShoalInfo.self, from: Data(fetched.stdout.utf8))
        #expect(info.infoHashV1 == original.infoHashV1 && info.files == original.files && info.pieceCount == original.pieceCount)
        #expect(fetched.stderr.contains("TR 3."), "\(fetched.stderr)")
        withExtendedLifetime(transmission) {}

        // Transmission with only the magnet link: Shoal connects to it (it never connects to loopback peers itself),
        // gives the metadata, and connects again when Transmission drops it to check the metadata.
        let output = folder.url.appendingPathComponent("tr-out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let downloadConfig = folder.url.appendingPathComponent("tr-download")
        let tool = try BackgroundTool(Tools.python, [TransmissionInteropTests.trTool, "download", magnet, output.path, downloadConfig.path])
        let line = tool.firstLine(timeout: 60) ?? ""
        let trPort = try #require((try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Int])?["port"],
                                  "Transmission did not start: \(TransmissionInteropTests.log(downloadConfig))")
        let (seeder, _) = try Self.shoalSeeder(torrent, data: payload.deletingLastPathComponent(), ["--peer", "127.0.0.1:\(trPort)"])
        defer { withExtendedLifetime((tool, seeder)) {} }
        let done = try Self.eventually(within: 90) { try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")) }
        #expect(done, "Transmission did not get the files within 90 s: \(TransmissionInteropTests.log(downloadConfig))")
    }

    // MARK: DHT

    /// The routing table size in the last status line of `shoal dht` or `lt_tool dht-node` ("nodes N" / "nodes=N").
    static func lastNodeCount(_ log: String) -> Int {
        for line in log.split(separator: "\n").reversed() {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "=" })
            if let index = words.firstIndex(of: "nodes"), index + 1 < words.count, let count = Int(words[index + 1]) { return count }
        }
        return 0
    }

    @Test("Three libtorrent DHT nodes bootstrapped on a fourth, and a Shoal node, find each other within seconds")
    func dhtNetwork() throws {
        let folder = try TemporaryFolder()
        let logs = (0..<4).map { folder.url.appendingPathComponent("lt\($0).log") }
        let (first, firstPort) = try Self.libtorrent(["dht-node", "--timeout", "120"], errors: logs[0])
        let others = try (1..<4).map { index in
            try Self.libtorrent(["dht-node", "--bootstrap", "127.0.0.1:\(firstPort)", "--add-node", "127.0.0.1:\(firstPort)", "--timeout", "120"],
                                errors: logs[index])
        }
        let shoalLog = folder.url.appendingPathComponent("shoal.log")
        let shoal = try BackgroundTool(Tools.shoal, ["dht", "--host", "127.0.0.1", "--port", "0", "--interval", "1",
                                                     "--dht-bootstrap", "127.0.0.1:\(firstPort)",
                                                     "--dht-state", folder.url.appendingPathComponent("dht.state").path], errors: shoalLog)
        defer { withExtendedLifetime((first, others, shoal)) {} }
        _ = try #require(shoal.firstLine(), "shoal dht did not start")
        // The first node knows the three others and Shoal; each other node knows at least two others.
        let met = Self.eventually(within: 30) {
            Self.lastNodeCount(Self.text(logs[0])) >= 4 && logs.dropFirst().allSatisfy { Self.lastNodeCount(Self.text($0)) >= 2 }
                && Self.lastNodeCount(Self.text(shoalLog)) >= 3
        }
        #expect(met, "tables: libtorrent \(logs.map { Self.lastNodeCount(Self.text($0)) }), shoal \(Self.lastNodeCount(Self.text(shoalLog)))\n\(Self.text(shoalLog).suffix(600))")
    }

    @Test("shoal download of a magnet link with no peer named: the libtorrent seeder is found through the DHT")
    func magnetThroughDHTFromLibtorrent() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent, magnet) = try Self.torrent("v1", in: folder)
        let (router, routerPort) = try Self.libtorrent(["dht-node", "--timeout", "120"])
        let bootstrap = "127.0.0.1:\(routerPort)"
        let (seeder, _) = try Self.libtorrent(["seed", torrent.path, payload.deletingLastPathComponent().path, "--dht", "--dht-bootstrap", bootstrap,
                                               "--dht-reannounce", "2"])
        defer { withExtendedLifetime((router, seeder)) {} }
        let output = folder.url.appendingPathComponent("out")
        let result = try Tools.runShoal(["download", magnet, "-o", output.path, "--port", "0", "--dht-bootstrap", bootstrap,
                                         "--dht-state", folder.url.appendingPathComponent("dht.state").path], timeout: 120)
        #expect(result.status == 0, "shoal download failed: \(result.stderr)")
        #expect(result.stderr.contains("DHT:"), "\(result.stderr)")
        #expect(result.stderr.contains("LT 2."), "\(result.stderr)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
    }

    @Test("libtorrent downloads a magnet link whose only source is a Shoal seeder it finds through Shoal's DHT node")
    func libtorrentMagnetThroughShoalDHT() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent, magnet) = try Self.torrent("v1", in: folder)
        // The network is one Shoal node: the seeder's own DHT node is the bootstrap node libtorrent joins through.
        let (router, routerPort) = try Self.libtorrent(["dht-node", "--timeout", "120"])
        let (seeder, seederPort) = try Self.shoalSeeder(torrent, data: payload.deletingLastPathComponent(),
                                                        ["--dht-bootstrap", "127.0.0.1:\(routerPort)",
                                                         "--dht-state", folder.url.appendingPathComponent("dht.state").path])
        defer { withExtendedLifetime((router, seeder)) {} }
        let output = folder.url.appendingPathComponent("lt-out")
        let result = try Tools.libtorrent(["download-magnet", magnet, output.path, "--dht", "--dht-bootstrap", "127.0.0.1:\(seederPort)",
                                           "--plain", "--timeout", "90"])
        #expect(result["error"] is NSNull, "\(result)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
    }

    // MARK: Peer exchange and local discovery

    @Test("Shoal told only of a libtorrent seeder learns a libtorrent downloader from it by peer exchange and connects to it")
    func peerExchangeFromLibtorrent() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent, _) = try Self.torrent("v1", in: folder, size: 3_000_000)
        let data = payload.deletingLastPathComponent().path
        let (seeder, port) = try Self.libtorrent(["seed", torrent.path, data, "--pex", "--upload-rate", "300000"])
        let downloader = try BackgroundTool(Tools.python, [Tools.ltTool, "download", torrent.path, folder.url.appendingPathComponent("lt-out").path,
                                                           "--peer", "127.0.0.1:\(port)", "--pex", "--timeout", "120"])
        defer { withExtendedLifetime((seeder, downloader)) {} }
        usleep(1_000_000)
        let output = folder.url.appendingPathComponent("out")
        let result = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--port", "0", "--peer", "127.0.0.1:\(port)"], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("peer exchange from 127.0.0.1:\(port): "), "\(result.stderr)")
        let others = result.stderr.split(separator: "\n").filter { $0.hasPrefix("connected to 127.0.0.1:") && !$0.hasPrefix("connected to 127.0.0.1:\(port) ") }
        #expect(!others.isEmpty, "Shoal connected to no peer but the seeder: \(result.stderr)")
    }

    @Test("Shoal and libtorrent find each other by local service discovery on lo, each way")
    func localDiscovery() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent, _) = try Self.torrent("v1", in: folder)
        let data = payload.deletingLastPathComponent().path
        let (ltSeeder, _) = try Self.libtorrent(["seed", torrent.path, data, "--lsd"])
        let output = folder.url.appendingPathComponent("out")
        let result = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--port", "0", "--lsd-interface", "lo"], timeout: 60)
        withExtendedLifetime(ltSeeder) {}
        #expect(result.status == 0, "\(result.stderr)")
        // Whichever heard the other's announce first connected: the only way either knew of the other.
        #expect(result.stderr.contains("LT 2."), "\(result.stderr)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))

        let (shoalSeeder, _) = try Self.shoalSeeder(torrent, data: payload.deletingLastPathComponent(), ["--lsd-interface", "lo"])
        defer { withExtendedLifetime(shoalSeeder) {} }
        let ltOutput = folder.url.appendingPathComponent("lt-out")
        let downloaded = try Tools.libtorrent(["download", torrent.path, ltOutput.path, "--lsd", "--plain", "--timeout", "60"])
        #expect(downloaded["error"] is NSNull, "\(downloaded)")
        #expect(try DownloadInteropTests.sameTree(payload, ltOutput.appendingPathComponent("payload")))
    }
}
