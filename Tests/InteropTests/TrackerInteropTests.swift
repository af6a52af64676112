import Foundation
import Shoal
import Testing

/// Trackers with real software on loopback: Shoal announcing to opentracker, libtorrent and Transmission
/// announcing to `shoal tracker`, and Shoal surviving trackers that fail.
@Suite(.serialized)
struct TrackerInteropTests {
    enum Kind: String, CaseIterable {
        case http, udp
    }

    /// A port free for both TCP and UDP on 127.0.0.1 right now.
    static func freePort() throws -> Int {
        for _ in 0..<50 {
            let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(tcp); close(udp) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    bind(tcp, pointer, length) == 0 && getsockname(tcp, pointer, &length) == 0
                }
            }
            guard bound else { continue }
            let udpFree = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(udp, $0, length) == 0 }
            }
            if udpFree { return Int(UInt16(bigEndian: address.sin_port)) }
        }
        throw Unavailable(description: "no free port")
    }

    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    /// opentracker on 127.0.0.1:`port` (TCP and UDP), serving only `infoHash`: this Debian build requires a whitelist.
    static func opentracker(port: Int, serving infoHash: String, in folder: TemporaryFolder) throws -> BackgroundTool {
        let whitelist = folder.url.appendingPathComponent("whitelist")
        try Data((infoHash + "\n").utf8).write(to: whitelist)
        // opentracker refuses to run as root: it drops to `nobody` and chroots into the folder (-d), where it then
        // reads the whitelist.
        let tool = try BackgroundTool("/usr/bin/opentracker", ["-i", "127.0.0.1", "-p", "\(port)", "-P", "\(port)", "-d", folder.url.path,
                                                                "-w", "whitelist", "-u", "nobody"])
        try waitForTCP(port: port)
        return tool
    }

    /// `shoal tracker` on 127.0.0.1, HTTP and UDP; returns it with both ports.
    static func shoalTracker(_ extra: [String] = []) throws -> (BackgroundTool, http: Int, udp: Int) {
        let tool = try BackgroundTool(Tools.shoal, ["tracker", "--http", "0", "--udp", "0", "--host", "127.0.0.1"] + extra)
        let lines = [tool.firstLine(), tool.firstLine()].compactMap { $0 }
        func port(_ kind: String) throws -> Int {
            try #require(lines.first { $0.hasPrefix("\(kind) tracker on port ") }.flatMap { Int($0.split(separator: " ").last ?? "") },
                         "shoal tracker printed \(lines)")
        }
        return (tool, try port("http"), try port("udp"))
    }

    /// Waits until something accepts TCP connections on 127.0.0.1:`port`.
    static func waitForTCP(port: Int, timeout: TimeInterval = 10) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            close(fd)
            if connected { return }
            usleep(50_000)
        }
        throw Unavailable(description: "nothing listens on port \(port)")
    }

    /// A v1 torrent (Transmission reads no other) of two files, announcing to `tracker`.
    static func makeTorrent(in folder: TemporaryFolder, trackers: [[String]]) throws -> (payload: URL, torrent: URL, infoHash: String) {
        try folder.file("src/payload/a.bin", size: 700_001, seed: 51)
        try folder.file("src/payload/b.bin", size: 90_000, seed: 52)
        let payload = folder.url.appendingPathComponent("src/payload")
        let plain = folder.url.appendingPathComponent("plain.torrent")
        let created = try Tools.runShoal(["create", payload.path, "--v1", "--piece-size", "32k", "-o", plain.path])
        try #require(created.status == 0, "\(created.stderr)")
        var metainfo = try Metainfo(bytes: Array(try Data(contentsOf: plain)))
        metainfo.trackers = trackers
        let torrent = folder.url.appendingPathComponent("t.torrent")
        try Data(metainfo.encoded()).write(to: torrent)
        let infoHash = try #require(metainfo.info.infoHashes.v1?.hex)
        return (payload, torrent, infoHash)
    }

    static func url(_ kind: Kind, port: Int) -> String {
        kind == .http ? "http://127.0.0.1:\(port)/announce" : "udp://127.0.0.1:\(port)/announce"
    }

    /// libtorrent seeding `payload` and announcing to the torrent's trackers; returns it once it runs.
    static func libtorrentSeeder(_ torrent: URL, _ payload: URL) throws -> BackgroundTool {
        let seeder = try BackgroundTool(Tools.python, [Tools.ltTool, "seed", torrent.path, payload.deletingLastPathComponent().path,
                                                       "--trackers", "--plain", "--reannounce", "2"])
        _ = try #require(seeder.firstLine(timeout: 60), "libtorrent seeder did not start")
        return seeder
    }

    @Test("Shoal finds a libtorrent seeder through opentracker and downloads from it; Shoal's scrape counts what opentracker saw",
          arguments: Kind.allCases)
    func shoalThroughOpentracker(kind: Kind) async throws {
        let folder = try TemporaryFolder()
        let port = try Self.freePort()
        let (payload, torrent, infoHash) = try Self.makeTorrent(in: folder, trackers: [[Self.url(kind, port: port)]])
        let tracker = try Self.opentracker(port: port, serving: infoHash, in: folder)
        let seeder = try Self.libtorrentSeeder(torrent, payload)
        defer { withExtendedLifetime((tracker, seeder)) {} }

        let output = folder.url.appendingPathComponent("out")
        let result = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--port", "0"], timeout: 120)
        #expect(result.status == 0, "shoal download failed: \(result.stderr)")
        // opentracker lists the asker too: the seeder and ourselves.
        #expect(result.stderr.contains("tracker \(Self.url(kind, port: port)): 2 peers (1 seeders, 1 leechers)"), "\(result.stderr)")
        #expect(result.stderr.contains("(LT 2.0"), "the peer is libtorrent: \(result.stderr)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))

        // The libtorrent seeder is left; Shoal said `completed` (so opentracker counts the download) and `stopped`.
        let hash = try #require(SHA1Hash(hex: infoHash))
        let counts: ScrapeCounts?
        switch kind {
        case .http: counts = try await HTTPTrackerClient().scrape(Self.url(kind, port: port), infoHash: hash)
        case .udp:
            let client = UDPTrackerClient()
            defer { client.close() }
            counts = try await client.scrape(Self.url(kind, port: port), infoHashes: [hash]).first
        }
        #expect(counts == ScrapeCounts(seeders: 1, leechers: 0, completed: 1))
    }

    @Test("libtorrent peers meet through shoal tracker and download from each other; scrapes count the swarm",
          arguments: Kind.allCases)
    func libtorrentThroughShoalTracker(kind: Kind) throws {
        let folder = try TemporaryFolder()
        let (tracker, httpPort, udpPort) = try Self.shoalTracker()
        let announce = Self.url(kind, port: kind == .http ? httpPort : udpPort)
        let (payload, torrent, _) = try Self.makeTorrent(in: folder, trackers: [[announce]])
        let seeder = try Self.libtorrentSeeder(torrent, payload)
        defer { withExtendedLifetime((tracker, seeder)) {} }

        let before = try Self.scrape(torrent)
        #expect(before.complete == 1 && before.incomplete == 0, "scrape with one seeder: \(before)")
        let output = folder.url.appendingPathComponent("lt-out")
        let downloaded = try Tools.libtorrent(["download", torrent.path, output.path, "--trackers", "--plain", "--timeout", "120"])
        #expect(downloaded["seeding"] as? Bool == true, "libtorrent did not complete: \(downloaded)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
        let after = try Self.scrape(torrent)
        #expect(after.complete == 1 && after.incomplete == 0 && after.downloaded == 1, "scrape after the download left: \(after)")
    }

    @Test("Transmission seeds and libtorrent downloads, then libtorrent seeds and Transmission downloads, through shoal tracker")
    func transmissionThroughShoalTracker() throws {
        let folder = try TemporaryFolder()
        let (tracker, httpPort, _) = try Self.shoalTracker()
        let (payload, torrent, _) = try Self.makeTorrent(in: folder, trackers: [[Self.url(.http, port: httpPort)]])
        defer { withExtendedLifetime(tracker) {} }
        do {
            let config = folder.url.appendingPathComponent("tr-seed-config")
            let transmission = try BackgroundTool(Tools.python, [TransmissionInteropTests.trTool, "seed", torrent.path,
                                                                 payload.deletingLastPathComponent().path, config.path, "--trackers"])
            defer { withExtendedLifetime(transmission) {} }
            _ = try #require(transmission.firstLine(timeout: 60), "Transmission did not start: \(TransmissionInteropTests.log(config))")
            let output = folder.url.appendingPathComponent("lt-out")
            let downloaded = try Tools.libtorrent(["download", torrent.path, output.path, "--trackers", "--timeout", "120"])
            #expect(downloaded["seeding"] as? Bool == true, "libtorrent did not complete: \(downloaded)")
            #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
        }
        let seeder = try Self.libtorrentSeeder(torrent, payload)
        defer { withExtendedLifetime(seeder) {} }
        let config = folder.url.appendingPathComponent("tr-download-config")
        let output = folder.url.appendingPathComponent("tr-out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let transmission = try BackgroundTool(Tools.python, [TransmissionInteropTests.trTool, "download", torrent.path, output.path,
                                                             config.path, "--trackers"])
        defer { withExtendedLifetime(transmission) {} }
        let deadline = Date().addingTimeInterval(90)
        var done = false
        while !done, Date() < deadline {
            done = try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload"))
            if !done { usleep(250_000) }
        }
        #expect(done, "Transmission did not get the files within 90 s: \(TransmissionInteropTests.log(config))")
    }

    @Test("shoal seed --serve-tracker is the swarm's tracker: libtorrent finds the seeder through it")
    func servedInProcess() throws {
        let folder = try TemporaryFolder()
        let port = try Self.freePort()
        let (payload, torrent, _) = try Self.makeTorrent(in: folder, trackers: [[Self.url(.udp, port: port)]])
        let seeder = try BackgroundTool(Tools.shoal, ["seed", torrent.path, payload.deletingLastPathComponent().path, "--port", "0",
                                                      "--serve-tracker", "\(port)"])
        defer { withExtendedLifetime(seeder) {} }
        let lines = [seeder.firstLine(), seeder.firstLine(), seeder.firstLine()].compactMap { $0 }
        #expect(lines.contains("udp tracker on port \(port)"), "\(lines)")
        let output = folder.url.appendingPathComponent("lt-out")
        let downloaded = try Tools.libtorrent(["download", torrent.path, output.path, "--trackers", "--plain", "--timeout", "120"])
        #expect(downloaded["seeding"] as? Bool == true, "libtorrent did not complete: \(downloaded)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
    }

    @Test("A tier of trackers that time out, answer garbage or refuse is tried member by member; the working tier still serves")
    func failingTrackersAreSurvived() throws {
        let folder = try TemporaryFolder()
        // A web server whose /junk/announce is not bencode and whose /refuse/announce is a failure reason.
        let web = folder.url.appendingPathComponent("web")
        try FileManager.default.createDirectory(at: web.appendingPathComponent("junk"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: web.appendingPathComponent("refuse"), withIntermediateDirectories: true)
        try Data("<html>tracker down for maintenance</html>".utf8).write(to: web.appendingPathComponent("junk/announce"))
        try Data("d14:failure reason22:torrent not registerede".utf8).write(to: web.appendingPathComponent("refuse/announce"))
        let webPort = try Self.freePort()
        let server = try BackgroundTool(Tools.python, ["-m", "http.server", "--bind", "127.0.0.1", "--directory", web.path, "\(webPort)"])
        try Self.waitForTCP(port: webPort)
        let silentPort = try Self.freePort()  // nothing answers there
        let (tracker, httpPort, _) = try Self.shoalTracker()
        let bad = ["udp://127.0.0.1:\(silentPort)/announce", "http://127.0.0.1:\(webPort)/junk/announce",
                   "http://127.0.0.1:\(webPort)/refuse/announce"]
        let good = Self.url(.http, port: httpPort)
        let (payload, torrent, _) = try Self.makeTorrent(in: folder, trackers: [bad, [good]])
        let log = folder.url.appendingPathComponent("seed.log")
        let seeder = try BackgroundTool(Tools.shoal, ["seed", torrent.path, payload.deletingLastPathComponent().path, "--port", "0",
                                                      "--tracker-timeout", "1"], errors: log)
        defer { withExtendedLifetime((server, tracker, seeder)) {} }
        _ = try #require(seeder.firstLine(), "shoal seed did not start")

        let output = folder.url.appendingPathComponent("out")
        let result = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--port", "0", "--tracker-timeout", "1"],
                                        timeout: 120)
        #expect(result.status == 0, "shoal download failed: \(result.stderr)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
        #expect(result.stderr.contains("tracker \(good): 1 peers"), "\(result.stderr)")

        // The seeder keeps announcing: within its tier, each failing tracker gives way to the next (the silent one
        // after 1 + 2 + 4 + 8 seconds of resends).
        let expected = ["tracker \(bad[0]) failed: timed out", "tracker \(bad[1]) failed: malformed tracker reply",
                        "tracker \(bad[2]) failed: tracker failure: torrent not registered"]
        let deadline = Date().addingTimeInterval(60)
        var text = ""
        while Date() < deadline {
            text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if expected.allSatisfy(text.contains) { break }
            usleep(250_000)
        }
        for line in expected { #expect(text.contains(line), "\(text)") }
        #expect(text.contains("tracker \(good): "), "\(text)")
    }

    struct Scrape: CustomStringConvertible {
        var complete: Int
        var incomplete: Int
        var downloaded: Int
        var description: String { "complete \(complete), incomplete \(incomplete), downloaded \(downloaded)" }
    }

    /// libtorrent's scrape of the torrent's tracker.
    static func scrape(_ torrent: URL) throws -> Scrape {
        let reply = try Tools.libtorrent(["scrape", torrent.path, "--timeout", "30"])
        return Scrape(complete: reply["complete"] as? Int ?? -1, incomplete: reply["incomplete"] as? Int ?? -1,
                      downloaded: reply["downloaded"] as? Int ?? -1)
    }
}
