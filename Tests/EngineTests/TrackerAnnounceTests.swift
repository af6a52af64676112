@testable import Engine
import Metainfo
import Storage
import Testing
import Tracker
import TrackerServer

/// The engine's announcer against an in-process tracker over loopback.
@Suite(.timeLimit(.minutes(2))) struct TrackerAnnounceTests {
    @Test("Two sessions meet through a tracker alone (UDP and HTTP tiers); stopping says completed and stopped")
    func meetThroughTracker() async throws {
        let server = TrackerServer()
        defer { server.close() }
        let udpPort = try await server.listenUDP(host: "127.0.0.1", port: 0)
        let httpPort = try await server.listenHTTP(host: "127.0.0.1", port: 0)
        let data = TorrentTests.data(200_000, seed: 9)
        var metainfo = try TorrentTests.torrent(of: data)
        metainfo.trackers = [["udp://127.0.0.1:\(udpPort)/announce"], ["http://127.0.0.1:\(httpPort)/announce"]]

        let seeder = try await TorrentTests.seeder(metainfo, contents: data, host: "127.0.0.1")
        defer { seeder.task.cancel() }

        let (torrent, storage, events) = try await TorrentTests.download(metainfo, from: [], listenHost: "127.0.0.1")
        #expect(torrent.isComplete)
        #expect(storage.contents(of: FileIndex(0)) == data)
        let working = events.compactMap { event -> String? in
            if case .tracker(let status) = event, status.state == .working { return status.url }
            return nil
        }
        #expect(Set(working) == Set(metainfo.trackers.flatMap { $0 }))
        // The downloader told both trackers it completed and left; the seeder is still there.
        let stats = server.statistics
        #expect(stats.seeders == 1 && stats.leechers == 0)
        let infoHash = try #require(metainfo.info.infoHashes.v1)
        #expect(server.counts(for: [infoHash]).first??.completed == 2)
    }

    @Test("Peers named by trackers are bounded: failed ones make room, then new ones wait")
    func candidatesBounded() throws {
        let data = TorrentTests.data(20_000, seed: 1)
        let metainfo = try TorrentTests.torrent(of: data)
        let session = Session(settings: SessionSettings())
        let torrent = try session.add(metainfo, storage: PieceStorage(layout: StorageLayout(metainfo.info), backend: MemoryStorage()),
                                      verified: Bitfield(count: metainfo.info.pieceCount))
        torrent.addPeers((0..<5000).map { (host: "10.0.\($0 / 250).\($0 % 250)", port: 6881) })
        #expect(torrent.core.withLock { $0.candidates.count } == PeerCandidates.maxCount)
        torrent.core.withLock { core in
            for name in Array(core.candidates.names.prefix(100)) { core.candidates[name]?.failures = PeerCandidates.maxFailures }
        }
        torrent.addPeers([(host: "10.9.9.9", port: 1)])
        #expect(torrent.core.withLock { $0.candidates.count } == PeerCandidates.maxCount - 99)
    }
}
