@testable import Engine
import Metainfo
import PeerWire
import Storage
import Testing

/// Whole torrents in one process over loopback: sessions with in-memory storage seed and download.
@Suite struct TorrentTests {
    static let pieceLength = 16_384

    /// A single-file v1 torrent of `data`, in 16 KiB pieces (one block each, so one sender per piece).
    static func torrent(of data: [UInt8]) throws -> Metainfo {
        let pieceCount = (data.count + pieceLength - 1) / pieceLength
        let hashes = (0..<pieceCount).flatMap { index in
            SHA1Hash.of(Array(data[index * pieceLength..<min(data.count, (index + 1) * pieceLength)])).bytes
        }
        let head = "d4:infod6:lengthi\(data.count)e4:name4:test12:piece lengthi\(pieceLength)e6:pieces\(hashes.count):"
        return try Metainfo(bytes: Array(head.utf8) + hashes + Array("ee".utf8))
    }

    static func data(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 9) ^ seed }
    }

    /// Starts a session on `host` seeding `metainfo` from `contents` (claimed verified, whatever they hold);
    /// returns the port and a task to cancel when done.
    static func seeder(_ metainfo: Metainfo, contents: [UInt8], host: String) async throws -> (port: Int, task: Task<Void, Never>) {
        let session = Session(settings: SessionSettings())
        let storage = PieceStorage(layout: StorageLayout(metainfo.info), backend: MemoryStorage(files: [FileIndex(0): contents]))
        var options = TorrentOptions()
        options.filePriorities = [.skip]
        var all = Bitfield(count: metainfo.info.pieceCount)
        for index in 0..<all.count { all[PieceIndex(index)] = true }
        let torrent = try session.add(metainfo, storage: storage, verified: all, options: options)
        let listener = try await session.listen(host: host, port: 0)
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await session.accept(on: listener) }
                group.addTask { await torrent.run() }
                await group.waitForAll()
            }
        }
        return (listener.port, task)
    }

    /// Downloads `metainfo` into memory from `peers` (and `afterBan` once a peer is banned); returns the torrent
    /// (finished or out of peers), the storage and every event. With `listenHost`, it also accepts peers there,
    /// and waits for peers (from trackers) rather than stopping when the given ones run out.
    static func download(_ metainfo: Metainfo, from peers: [(host: String, port: Int)],
                         afterBan: [(host: String, port: Int)] = [], listenHost: String? = nil) async throws
        -> (torrent: Torrent, storage: MemoryStorage, events: [TorrentEvent]) {
        var settings = SessionSettings()
        settings.listenPort = 0
        let session = Session(settings: settings)
        let backend = MemoryStorage()
        var options = TorrentOptions()
        options.stopWhenComplete = true
        options.stopWhenPeersRunOut = listenHost == nil
        let torrent = try session.add(metainfo, storage: PieceStorage(layout: StorageLayout(metainfo.info), backend: backend),
                                      verified: Bitfield(count: metainfo.info.pieceCount), options: options)
        torrent.addPeers(peers)
        var listener: PeerListener?
        if let listenHost { listener = try await session.listen(host: listenHost, port: 0) }
        let accepting = Task { if let listener { await session.accept(on: listener) } }
        defer { accepting.cancel() }
        let collected = Task {
            var events: [TorrentEvent] = []
            for await event in torrent.events {
                events.append(event)
                if case .peerBanned = event { torrent.addPeers(afterBan) }
            }
            return events
        }
        try await withTimeout(seconds: 60) { await torrent.run() }
        return (torrent, backend, await collected.value)
    }

    @Test("A torrent downloads in one process from a seeder over loopback, verified piece by piece")
    func downloadsFromASeeder() async throws {
        let data = Self.data(300_000, seed: 1)
        let metainfo = try Self.torrent(of: data)
        let seeder = try await Self.seeder(metainfo, contents: data, host: "127.0.0.1")
        defer { seeder.task.cancel() }
        let (torrent, storage, events) = try await Self.download(metainfo, from: [("127.0.0.1", seeder.port)])
        #expect(torrent.isComplete)
        #expect(storage.contents(of: FileIndex(0)) == data)
        #expect(events.contains(.finished))
        #expect(events.filter { if case .pieceVerified = $0 { true } else { false } }.count == metainfo.info.pieceCount)
        #expect(torrent.stats.downloaded >= Int64(data.count))
    }

    @Test("A peer whose pieces fail their hash check is banned; the download completes from an honest one")
    func badDataGetsItsSenderBanned() async throws {
        let data = Self.data(1 << 20, seed: 2)
        let metainfo = try Self.torrent(of: data)
        // The liar claims every piece and serves bytes that hash to nothing; it listens on another loopback
        // address so that banning it does not ban the honest seeder, which is given only after the ban.
        let liar = try await Self.seeder(metainfo, contents: data.map { $0 ^ 0x5a }, host: "127.0.0.2")
        let honest = try await Self.seeder(metainfo, contents: data, host: "127.0.0.1")
        defer {
            liar.task.cancel()
            honest.task.cancel()
        }
        let (torrent, storage, events) = try await Self.download(metainfo, from: [("127.0.0.2", liar.port)],
                                                                 afterBan: [("127.0.0.1", honest.port)])
        #expect(torrent.isComplete)
        #expect(storage.contents(of: FileIndex(0)) == data, "no byte of the liar's reached the storage")
        let failures = events.compactMap { event -> [String]? in
            if case .pieceFailed(_, let senders) = event { senders } else { nil }
        }
        #expect(!failures.isEmpty)
        #expect(failures.allSatisfy { $0 == ["127.0.0.2:\(liar.port)"] }, "only the liar is blamed: \(failures)")
        #expect(events.contains { if case .peerBanned("127.0.0.2:\(liar.port)", _) = $0 { true } else { false } })
    }
}
