import Foundation
import Testing

/// `shoal seed` with real peers: libtorrent downloads from it, and Shoal downloads from it alone and together
/// with a libtorrent seeder.
@Suite(.serialized)
struct SeedInteropTests {
    /// Starts `shoal seed` on a free port and returns it with the port.
    static func shoalSeeder(_ torrent: URL, data folder: URL) throws -> (BackgroundTool, Int) {
        try #require(FileManager.default.isExecutableFile(atPath: Tools.shoal))
        let seeder = try BackgroundTool(Tools.shoal, ["seed", torrent.path, folder.path, "--port", "0"])
        let line = try #require(seeder.firstLine(), "shoal seed did not start")
        let port = try #require(Int(line.split(separator: " ").last ?? ""), "unexpected first line: \(line)")
        return (seeder, port)
    }

    static func makeTorrent(_ version: String, in folder: TemporaryFolder) throws -> (payload: URL, torrent: URL) {
        let payload = try DownloadInteropTests.makePayload(in: folder)
        let torrent = folder.url.appendingPathComponent("t.torrent")
        let created = try Tools.runShoal(["create", payload.path, "--\(version)", "--piece-size", "16k", "-o", torrent.path])
        #expect(created.status == 0, "\(created.stderr)")
        return (payload, torrent)
    }

    @Test("libtorrent downloads from a Shoal seeder; the bytes on disk equal the source", arguments: ["v1", "v2", "hybrid"])
    func libtorrentDownloadsFromShoal(version: String) throws {
        let folder = try TemporaryFolder()
        let (payload, torrent) = try Self.makeTorrent(version, in: folder)
        let (seeder, port) = try Self.shoalSeeder(torrent, data: payload.deletingLastPathComponent())
        defer { withExtendedLifetime(seeder) {} }
        let output = folder.url.appendingPathComponent("lt-out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let result = try Tools.libtorrent(["download", torrent.path, output.path, "--peer", "127.0.0.1:\(port)", "--timeout", "60"])
        #expect(result["seeding"] as? Bool == true, "libtorrent did not finish: \(result)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
    }

    @Test("Shoal downloads from a Shoal seeder and a libtorrent seeder at once")
    func shoalDownloadsFromShoalAndLibtorrent() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent) = try Self.makeTorrent("hybrid", in: folder)
        let data = payload.deletingLastPathComponent()
        let (shoalSeeder, shoalPort) = try Self.shoalSeeder(torrent, data: data)
        let (ltSeeder, ltPort) = try DownloadInteropTests.seeder(torrent, data: data)
        defer { withExtendedLifetime((shoalSeeder, ltSeeder)) {} }
        let output = folder.url.appendingPathComponent("out")
        let result = try Tools.runShoal(["download", torrent.path, "-o", output.path,
                                         "--peer", "127.0.0.1:\(shoalPort)", "--peer", "127.0.0.1:\(ltPort)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
        #expect(result.stderr.contains("SH 0.1.0.0"), "connected to the Shoal seeder: \(result.stderr)")
        #expect(result.stderr.contains("LT 2."), "connected to the libtorrent seeder: \(result.stderr)")
    }
}

extension SeedInteropTests {
    /// Pure v2 only: given a hybrid without piece layers, libtorrent checks pieces by their SHA-1 and asks for no hashes.
    @Test("libtorrent, given a v2 torrent without piece layers, gets them from Shoal's hash answers and downloads")
    func libtorrentFetchesPieceLayersFromShoal() throws {
        let version = "v2"
        let folder = try TemporaryFolder()
        let payload = try DownloadInteropTests.makePayload(in: folder)
        let torrent = folder.url.appendingPathComponent("t.torrent")
        let created = try Tools.runShoal(["create", payload.path, "--\(version)", "--piece-size", "32k", "-o", torrent.path])
        #expect(created.status == 0, "\(created.stderr)")
        // The same torrent (same info-hash) without its piece layers: libtorrent must ask a peer for them.
        let bare = folder.url.appendingPathComponent("bare.torrent")
        let strip = "import libtorrent as lt, sys; d = lt.bdecode(open(sys.argv[1], 'rb').read()); "
            + "assert d.pop(b'piece layers', None); open(sys.argv[2], 'wb').write(lt.bencode(d))"
        let stripped = try runTool(Tools.python, ["-c", strip, torrent.path, bare.path])
        #expect(stripped.status == 0, "\(stripped.stderr)")

        let log = folder.url.appendingPathComponent("seed.log")
        let seeder = try BackgroundTool(Tools.shoal, ["seed", torrent.path, payload.deletingLastPathComponent().path, "--port", "0"],
                                        errors: log)
        let port = try #require(seeder.firstLine().flatMap { Int($0.split(separator: " ").last ?? "") }, "shoal seed did not start")
        let output = folder.url.appendingPathComponent("lt-out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let result = try Tools.libtorrent(["download", bare.path, output.path, "--peer", "127.0.0.1:\(port)", "--timeout", "60"])
        #expect(result["seeding"] as? Bool == true, "libtorrent did not finish: \(result)")
        #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
        // libtorrent asked for the piece layers, and every request was answered with hashes.
        seeder.kill(SIGTERM)
        let said = try String(contentsOf: log, encoding: .utf8)
        let summary = try #require(said.split(separator: "\n").last { $0.hasPrefix("uploaded") }, "\(said)")
        #expect(summary.contains("answered") && summary.hasSuffix("refused 0"), "\(summary)")
        #expect(!summary.contains("answered 0 "), "\(summary)")
    }

    @Test("Shoal downloads from a Shoal seeder over IPv6 loopback; the seeder takes IPv4 peers on the same port")
    func shoalToShoalOverIPv6() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent) = try Self.makeTorrent("v2", in: folder)
        let (seeder, port) = try Self.shoalSeeder(torrent, data: payload.deletingLastPathComponent())
        defer { withExtendedLifetime(seeder) {} }
        for host in ["[::1]", "127.0.0.1"] {
            let output = folder.url.appendingPathComponent("out-\(host.count)")
            let result = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--port", "0", "--peer", "\(host):\(port)"])
            #expect(result.status == 0, "\(host): \(result.stderr)")
            #expect(result.stderr.contains("connected to \(host):\(port) (SH 0.1.0.0)"), "\(result.stderr)")
            #expect(try DownloadInteropTests.sameTree(payload, output.appendingPathComponent("payload")))
        }
    }
}

/// A hostile peer against `shoal seed`: each attack ends its own connection, and the seeder keeps serving.
@Suite(.serialized)
struct HostilePeerTests {
    /// Python that connects, handshakes for `infohash`, sends `attack` (hex) and reports whether the seeder
    /// then closed the connection within five seconds.
    static let script = """
    import socket, sys, time
    port, infohash, attack = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"\\x13BitTorrent protocol" + bytes(8) + infohash + b"-XX0000-hostilepeer!")
    s.sendall(attack)
    deadline = time.time() + 5
    closed = False
    while time.time() < deadline:
        try:
            data = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            closed = True
            break
        if not data:
            closed = True
            break
    print("closed" if closed else "open")
    """

    @Test("Oversized, malformed and unsolicited messages close the sender's connection; the seeder serves on",
          arguments: [
            ("oversized length prefix", "7fffffff"),
            ("bitfield of the wrong length", "0000000205ff"),
            ("request out of range", "0000000d06" + "000003e8" + "00000000" + "00004000"),
            ("block never requested", "0000000d07" + "00000000" + "00000000" + "41414141"),
            ("have beyond the last piece", "0000000504" + "7fffffff"),
          ])
    func hostileMessages(name: String, attack: String) throws {
        let folder = try TemporaryFolder()
        let (payload, torrent) = try SeedInteropTests.makeTorrent("v1", in: folder)
        let (seeder, port) = try SeedInteropTests.shoalSeeder(torrent, data: payload.deletingLastPathComponent())
        defer { withExtendedLifetime(seeder) {} }
        let info = try JSONDecoder().decode(ShoalInfo.self, from: Data(try Tools.runShoal(["info", "--json", torrent.path]).stdout.utf8))
        let hash = try #require(info.infoHashV1)

        let result = try runTool(Tools.python, ["-c", Self.script, String(port), hash, attack], timeout: 30)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "closed", "\(name): \(result.stdout) \(result.stderr)")

        // An honest peer still gets the whole torrent.
        let output = folder.url.appendingPathComponent("lt-out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        let download = try Tools.libtorrent(["download", torrent.path, output.path, "--peer", "127.0.0.1:\(port)", "--timeout", "60"])
        #expect(download["seeding"] as? Bool == true, "\(name): \(download)")
    }
}
