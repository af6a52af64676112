import Metainfo
import NIOCore
import Testing
import Tracker
@testable import TrackerServer

@Suite struct SwarmRegistryTests {
    let hash = SHA1Hash(bytes: [UInt8](repeating: 3, count: 20))!

    func peer(_ last: UInt32, port: UInt16 = 6881) -> TrackedPeer { TrackedPeer(.v4(0x0A00_0000 | last), port: port) }

    /// Announces and reads the reply back; a refused announce (the tracker full) reads as -1 seeders.
    @discardableResult
    func announce(_ registry: inout SwarmRegistry, _ peer: TrackedPeer, left: Int64 = 1, event: AnnounceEvent = .none, now: UInt32 = 0,
                  numWant: Int = 50, record: Bool = true) -> (seeders: Int, leechers: Int, peers: [PeerAddress]) {
        var buffer = ByteBuffer()
        guard let result = registry.announce(hash, from: peer, left: left, event: event, now: now, numWant: numWant, record: record,
                                             into: &buffer) else { return (-1, -1, []) }
        let width: Int = if case .v6 = peer { 18 } else { 6 }
        let peers = PeerAddress.parseCompact(Array(buffer.readableBytesView), width: width) ?? []
        #expect(peers.count == result.written)
        return (result.seeders, result.leechers, peers)
    }

    @Test("Peers are counted once each, seeders apart, and never sent themselves")
    func counts() {
        var registry = SwarmRegistry(maxSwarms: 10, maxPeersPerSwarm: 100)
        announce(&registry, peer(1), event: .started)
        announce(&registry, peer(1))
        announce(&registry, peer(2), left: 0)
        let third = announce(&registry, peer(3))
        #expect(third.seeders == 1 && third.leechers == 2)
        #expect(Set(third.peers.map(\.description)) == ["10.0.0.1:6881", "10.0.0.2:6881"])
        // A leecher that finishes becomes a seeder; a seeder is sent no seeders.
        let done = announce(&registry, peer(1), left: 0, event: .completed)
        #expect(done.seeders == 2 && done.leechers == 1)
        #expect(done.peers.map(\.description) == ["10.0.0.3:6881"])
        #expect(registry.counts(hash) == ScrapeCounts(seeders: 2, leechers: 1, completed: 1))
        // Same address, another port: another peer.
        #expect(announce(&registry, peer(3, port: 7000)).leechers == 2)
    }

    @Test("Stopped removes the peer, and the swarm with its last peer")
    func stopped() {
        var registry = SwarmRegistry(maxSwarms: 10, maxPeersPerSwarm: 100)
        announce(&registry, peer(1))
        let ipv6 = TrackedPeer(IPAddress("2001:db8::1")!, port: 1)
        let v6 = announce(&registry, ipv6)
        #expect(v6.leechers == 2 && v6.peers.isEmpty)  // IPv6 asks get IPv6 peers
        announce(&registry, peer(1), event: .stopped)
        #expect(registry.counts(hash).leechers == 1)
        announce(&registry, ipv6, event: .stopped)
        #expect(registry.swarms.isEmpty && registry.peerCount == 0)
        // A stopped announce for an unknown swarm creates nothing.
        announce(&registry, peer(9), event: .stopped)
        #expect(registry.swarms.isEmpty)
    }

    @Test("Limits: peers per swarm, swarms per tracker, peers per reply")
    func limits() {
        var registry = SwarmRegistry(maxSwarms: 1, maxPeersPerSwarm: 3)
        for last: UInt32 in 1...5 { announce(&registry, peer(last)) }
        #expect(registry.counts(hash).leechers == 3)
        #expect(announce(&registry, peer(1), numWant: 1).peers.count == 1)
        var buffer = ByteBuffer()
        let other = SHA1Hash(bytes: [UInt8](repeating: 4, count: 20))!
        #expect(registry.announce(other, from: peer(1), left: 1, event: .started, now: 0, numWant: 5, into: &buffer) == nil)
        #expect(registry.swarms.count == 1)
    }

    @Test("A peer without a port is answered but not recorded; totals follow every change")
    func unrecorded() {
        var registry = SwarmRegistry(maxSwarms: 10, maxPeersPerSwarm: 100)
        #expect(announce(&registry, peer(1), record: false).leechers == 0)
        #expect(registry.swarms.isEmpty)
        announce(&registry, peer(2), left: 0)
        announce(&registry, peer(3))
        let asked = announce(&registry, peer(1), record: false)
        #expect(asked.peers.count == 2 && asked.seeders == 1 && asked.leechers == 1)
        #expect(registry.totals == (1, 1))
        announce(&registry, peer(3), left: 0, event: .completed)
        #expect(registry.totals == (2, 0))
        registry.expire(now: 3600, timeout: 60)
        #expect(registry.totals == (0, 0))
    }

    @Test("Peers silent past the timeout are forgotten, with swarms left empty")
    func expiry() {
        var registry = SwarmRegistry(maxSwarms: 10, maxPeersPerSwarm: 100)
        announce(&registry, peer(1), left: 0, now: 0)
        announce(&registry, peer(2), now: 600)
        registry.expire(now: 660, timeout: 300)  // minute 11: the first is 11 minutes old, the second 1
        #expect(registry.counts(hash) == ScrapeCounts(seeders: 0, leechers: 1, completed: 0))
        #expect(registry.peerCount == 1)
        registry.expire(now: 1200, timeout: 300)
        #expect(registry.swarms.isEmpty && registry.peerCount == 0)
    }

    @Test("Stamps wrap after 2^15 minutes without losing live peers")
    func stampsWrap() {
        var registry = SwarmRegistry(maxSwarms: 10, maxPeersPerSwarm: 100)
        let lastMinute = UInt32(0x7FFF) * 60
        announce(&registry, peer(1), now: lastMinute)
        registry.expire(now: lastMinute + 180, timeout: 300)  // minute 2 of the next round: 3 minutes old
        #expect(registry.peerCount == 1)
        registry.expire(now: lastMinute + 420, timeout: 300)
        #expect(registry.peerCount == 0)
    }

    @Test("Random starts reach every peer: replies differ between asks")
    func variety() {
        var registry = SwarmRegistry(maxSwarms: 10, maxPeersPerSwarm: 1000)
        for last in 1...100 { announce(&registry, peer(UInt32(last))) }
        var seen: Set<String> = []
        for _ in 0..<50 { seen.formUnion(announce(&registry, peer(500), numWant: 10).peers.map(\.description)) }
        #expect(seen.count > 50)
    }

    @Test("Allow lists read opentracker's format; v2 hashes count by their truncation")
    func allowList() {
        let v2 = String(repeating: "ab", count: 32)
        let (hashes, bad) = AllowList.parse("# mine\r\n\(hash.hex)\r\n\n  \(v2)  \nnot a hash\n")
        #expect(hashes == [hash, SHA256Hash(hex: v2)!.truncated])
        #expect(bad == [5])
    }
}
