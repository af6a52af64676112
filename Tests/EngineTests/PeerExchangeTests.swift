@testable import Engine
import Metainfo
import PeerWire
import Storage
import Testing

/// Peer exchange between sessions in one process over loopback.
@Suite(.timeLimit(.minutes(2))) struct PeerExchangeTests {
    @Test("A downloader told only of the seeder learns a second peer from it by peer exchange")
    func learnsPeerThroughSeeder() async throws {
        let data = TorrentTests.data(400_000, seed: 5)
        let metainfo = try TorrentTests.torrent(of: data)
        let seeder = try await TorrentTests.seeder(metainfo, contents: data, host: "127.0.0.1")
        defer { seeder.task.cancel() }

        // A slow downloader that listens and connects to the seeder: the seeder learns its listening port.
        var settings = SessionSettings()
        settings.rates.download = 2048
        let slowSession = Session(settings: settings)
        let slow = try slowSession.add(metainfo, storage: PieceStorage(layout: StorageLayout(metainfo.info), backend: MemoryStorage()),
                                       verified: Bitfield(count: metainfo.info.pieceCount))
        let slowListener = try await slowSession.listen(host: "127.0.0.1", port: 0)
        slow.addPeers([(host: "127.0.0.1", port: seeder.port)])
        let slowTask = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await slowSession.accept(on: slowListener) }
                group.addTask { await slow.run() }
                await group.waitForAll()
            }
        }
        defer { slowTask.cancel() }
        while slow.stats.peers == 0 { try await Task.sleep(for: .milliseconds(50)) }

        let (torrent, storage, events) = try await TorrentTests.download(metainfo, from: [(host: "127.0.0.1", port: seeder.port)],
                                                                         listenHost: "127.0.0.1")
        #expect(torrent.isComplete)
        #expect(storage.contents(of: FileIndex(0)) == data)
        let exchanged = events.contains { if case .peerExchange("127.0.0.1:\(seeder.port)", added: 1, dropped: 0) = $0 { true } else { false } }
        #expect(exchanged, "\(events.filter { if case .stats = $0 { false } else { true } })")
        // It finishes before its next round of connections: the peer is a candidate by its listening port.
        #expect(torrent.core.withLock { $0.candidates["127.0.0.1:\(slowListener.port)"] } != nil)
    }
}

@Suite struct PrivateTorrentTests {
    @Test("A private torrent (BEP 27) offers no peer exchange and is never looked up or announced by the DHT or LSD")
    func privateTorrentsStayPrivate() throws {
        let data = TorrentTests.data(40_000, seed: 3)
        let public_ = try TorrentTests.torrent(of: data)
        // The same info dictionary with `private` 1 (keys stay sorted: "private" follows "pieces").
        let privateInfo = Array(public_.info.rawBytes.dropLast()) + Array("7:privatei1ee".utf8)
        let private_ = try Metainfo(bytes: Array("d4:info".utf8) + privateInfo + Array("e".utf8))
        #expect(private_.info.isPrivate)
        let session = Session(settings: SessionSettings())
        let storage = { (m: Metainfo) in PieceStorage(layout: StorageLayout(m.info), backend: MemoryStorage()) }
        let open = try session.add(public_, storage: storage(public_), verified: Bitfield(count: public_.info.pieceCount))
        let closed = try session.add(private_, storage: storage(private_), verified: Bitfield(count: private_.info.pieceCount))
        #expect(open.usesPeerExchange && !closed.usesPeerExchange)
        #expect(session.discoverableHashes() == [try #require(public_.info.infoHashes.v1)])
    }
}

@Suite(.timeLimit(.minutes(1))) struct DHTPortMessageTests {
    @Test("Peers that both run a DHT node tell each other its port (BEP 5 port message), and each adds the other's node")
    func portMessageAddsNode() async throws {
        let data = TorrentTests.data(100_000, seed: 7)
        let metainfo = try TorrentTests.torrent(of: data)
        var settings = SessionSettings()
        settings.listenPort = 0
        let seeder = Session(settings: settings)
        var all = Bitfield(count: metainfo.info.pieceCount)
        for index in 0..<all.count { all[PieceIndex(index)] = true }
        var options = TorrentOptions()
        options.filePriorities = [.skip]
        let seeding = try seeder.add(metainfo, storage: PieceStorage(layout: StorageLayout(metainfo.info),
                                                                  backend: MemoryStorage(files: [FileIndex(0): data])),
                                     verified: all, options: options)
        let listener = try await seeder.listen(host: "127.0.0.1", port: 0)
        try await seeder.startDHT(bootstrap: [], host: "127.0.0.1")
        let downloader = Session(settings: settings)
        let torrent = try downloader.add(metainfo, storage: PieceStorage(layout: StorageLayout(metainfo.info), backend: MemoryStorage()),
                                         verified: Bitfield(count: metainfo.info.pieceCount))
        _ = try await downloader.listen(host: "127.0.0.1", port: 0)
        try await downloader.startDHT(bootstrap: [], host: "127.0.0.1")
        defer {
            seeder.close()
            downloader.close()
        }
        torrent.addPeers([(host: "127.0.0.1", port: listener.port)])
        let running = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await seeder.accept(on: listener) }
                group.addTask { await seeding.run() }
                group.addTask { await torrent.run() }
                await group.waitForAll()
            }
        }
        defer { running.cancel() }
        var met = false
        for _ in 0..<100 where !met {
            try await Task.sleep(for: .milliseconds(100))
            met = seeder.dht?.nodeCounts[.v4] == 1 && downloader.dht?.nodeCounts[.v4] == 1
        }
        #expect(met, "tables: seeder \(seeder.dht?.nodeCounts ?? [:]), downloader \(downloader.dht?.nodeCounts ?? [:])")
        torrent.stop()
        seeding.stop()
    }
}
