import Foundation
import Testing

/// The user's limits with real peers: rate limits hold, blocked addresses never get a connection, and a
/// download killed half way resumes without fetching its verified pieces again.
@Suite(.serialized)
struct LimitsInteropTests {
    /// A single-file v1 torrent of `size` bytes in 64 KiB pieces.
    static func makeTorrent(size: Int, in folder: TemporaryFolder) throws -> (payload: URL, torrent: URL) {
        let payload = try folder.file("src/big.bin", size: size, seed: 41)
        let torrent = folder.url.appendingPathComponent("big.torrent")
        let created = try Tools.runShoal(["create", payload.path, "--v1", "--piece-size", "64k", "-o", torrent.path])
        #expect(created.status == 0, "\(created.stderr)")
        return (payload, torrent)
    }

    /// Seconds `body` takes.
    static func timed(_ body: () throws -> Void) rethrows -> Double {
        let start = Date()
        try body()
        return Date().timeIntervalSince(start)
    }

    /// 3 MiB at 512 KiB/s takes 6 s; the limiter lets at most a tenth of a second's worth through at once,
    /// so anything under 5.4 s means the limit did not hold.
    static let size = 3 << 20
    static let rate = 512 << 10
    static var shortestTime: Double { Double(size) / Double(rate) * 0.9 }

    @Test("A download rate limit holds against a libtorrent seeder")
    func downloadLimitHolds() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent) = try Self.makeTorrent(size: Self.size, in: folder)
        let (seeder, port) = try DownloadInteropTests.seeder(torrent, data: payload.deletingLastPathComponent())
        defer { withExtendedLifetime(seeder) {} }
        let output = folder.url.appendingPathComponent("out")
        var result: ProcessResult?
        let seconds = try Self.timed {
            result = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--peer", "127.0.0.1:\(port)", "--down-rate", "512k"])
        }
        #expect(result?.status == 0, "\(result?.stderr ?? "")")
        #expect(FileManager.default.contentsEqual(atPath: payload.path, andPath: output.appendingPathComponent("big.bin").path))
        let measured = Double(Self.size) / seconds
        #expect(seconds >= Self.shortestTime, "3 MiB in \(seconds) s is \(Int(measured)) B/s, over the 524288 B/s limit")
    }

    @Test("An upload rate limit holds: libtorrent downloads from a limited Shoal seeder")
    func uploadLimitHolds() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent) = try Self.makeTorrent(size: Self.size, in: folder)
        let seeder = try BackgroundTool(Tools.shoal, ["seed", torrent.path, payload.deletingLastPathComponent().path,
                                                      "--port", "0", "--up-rate", "512k"])
        defer { withExtendedLifetime(seeder) {} }
        let port = try #require(seeder.firstLine().flatMap { Int($0.split(separator: " ").last ?? "") }, "shoal seed did not start")
        let output = folder.url.appendingPathComponent("lt-out")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        var download: [String: Any] = [:]
        let seconds = try Self.timed {
            download = try Tools.libtorrent(["download", torrent.path, output.path, "--peer", "127.0.0.1:\(port)", "--timeout", "60"])
        }
        #expect(download["seeding"] as? Bool == true, "\(download)")
        #expect(seconds >= Self.shortestTime, "3 MiB in \(seconds) s is over the 524288 B/s limit")
    }

    /// A PeerGuardian text list naming all of 127.0.0.0/8.
    static func loopbackList(in folder: TemporaryFolder) throws -> URL {
        let list = folder.url.appendingPathComponent("block.p2p")
        try Data("# test list\nloopback:127.0.0.0-127.255.255.255\n".utf8).write(to: list)
        return list
    }

    @Test("A blocked address never gets a connection, in either direction")
    func blockListHolds() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent) = try Self.makeTorrent(size: 256 << 10, in: folder)
        let list = try Self.loopbackList(in: folder)

        // Outgoing: shoal download is given only a blocked peer, so it gives up without connecting.
        let (ltSeeder, ltPort) = try DownloadInteropTests.seeder(torrent, data: payload.deletingLastPathComponent())
        defer { withExtendedLifetime(ltSeeder) {} }
        let output = folder.url.appendingPathComponent("out")
        let blocked = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--peer", "127.0.0.1:\(ltPort)",
                                          "--block-list", list.path])
        #expect(blocked.status == 1, "\(blocked.stderr)")
        #expect(!blocked.stderr.contains("connected to"), "\(blocked.stderr)")
        #expect(blocked.stdout.contains("0 of 4 pieces verified"), "\(blocked.stdout)")

        // An allow list without loopback blocks it just the same.
        let allowList = folder.url.appendingPathComponent("allow.p2p")
        try Data("lan:10.0.0.0-10.255.255.255\n".utf8).write(to: allowList)
        let notAllowed = try Tools.runShoal(["download", torrent.path, "-o", output.path, "--peer", "127.0.0.1:\(ltPort)",
                                             "--allow-list", allowList.path])
        #expect(notAllowed.status == 1)
        #expect(!notAllowed.stderr.contains("connected to"), "\(notAllowed.stderr)")

        // Incoming: libtorrent connects to a Shoal seeder that blocks loopback and gets nothing.
        let seeder = try BackgroundTool(Tools.shoal, ["seed", torrent.path, payload.deletingLastPathComponent().path,
                                                      "--port", "0", "--block-list", list.path])
        defer { withExtendedLifetime(seeder) {} }
        let port = try #require(seeder.firstLine().flatMap { Int($0.split(separator: " ").last ?? "") }, "shoal seed did not start")
        let ltOutput = folder.url.appendingPathComponent("lt-out")
        try FileManager.default.createDirectory(at: ltOutput, withIntermediateDirectories: true)
        let result = try runTool(Tools.python, [Tools.ltTool, "download", torrent.path, ltOutput.path,
                                                "--peer", "127.0.0.1:\(port)", "--timeout", "8"])
        let download = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(download["have"] as? Int == 0, "libtorrent got pieces from a seeder that blocks it: \(download)")
    }

    @Test("A download killed half way (SIGKILL) resumes and fetches only what was missing")
    func resumeAfterKill() throws {
        let folder = try TemporaryFolder()
        let (payload, torrent) = try Self.makeTorrent(size: 4 << 20, in: folder)
        let (seeder, port) = try DownloadInteropTests.seeder(torrent, data: payload.deletingLastPathComponent())
        defer { withExtendedLifetime(seeder) {} }
        let output = folder.url.appendingPathComponent("out")
        let arguments = ["download", torrent.path, "-o", output.path, "--peer", "127.0.0.1:\(port)"]

        // At 1 MiB/s the 4 MiB take about 4 s: kill the download after 2.
        let first = try BackgroundTool(Tools.shoal, arguments + ["--down-rate", "1M"])
        #expect(first.firstLine() != nil, "shoal download did not start")
        usleep(2_000_000)
        first.kill(SIGKILL)

        let check = try Tools.runShoal(["verify", "--json", torrent.path, output.path])
        let verified = try JSONDecoder().decode(ShoalVerify.self, from: Data(check.stdout.utf8))
        #expect(verified.good > 0 && verified.good < verified.pieces, "killed with \(verified.good) of \(verified.pieces) pieces")

        let second = try Tools.runShoal(arguments)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("\(verified.pieces) of \(verified.pieces) pieces verified, \(verified.pieces - verified.good) downloaded"),
                "\(second.stdout)")
        #expect(FileManager.default.contentsEqual(atPath: payload.path, andPath: output.appendingPathComponent("big.bin").path))

        // Complete now, with resume data written: a third run trusts it and fetches nothing.
        let third = try Tools.runShoal(arguments)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stdout.contains("0 downloaded"), "\(third.stdout)")
        #expect(third.stderr.contains("resuming with \(verified.pieces) of \(verified.pieces) pieces verified (resume data)"),
                "resume data spared the check: \(third.stderr)")
    }
}
