import Metainfo
import Testing
@testable import DHT

private let start = ContinuousClock.now
private let own = NodeID.zero

/// A node whose id shares exactly `prefix` bits with `own`, at a distinct 10.x.y.z address.
private func node(prefix: Int, _ serial: Int, generator: inout SplitMix64, port: UInt16 = 6881) -> NodeInfo {
    let id = own.flippingBit(at: prefix).randomized(keepingPrefix: prefix + 1, using: &generator)
    return NodeInfo(id: id, address: PeerAddress(ip: .v4(0x0a00_0000 | UInt32(prefix) << 12 | UInt32(serial)), port: port))
}

@Suite struct RoutingTableTests {
    @Test("Only the bucket covering our id splits; a full far bucket sends newcomers to its replacement cache")
    func splitting() {
        var generator = SplitMix64(seed: 1)
        var table = RoutingTable(ownID: own, family: .v4)
        let far = (0..<9).map { node(prefix: 0, $0, generator: &generator) }
        for member in far.prefix(8) { #expect(table.noteResponse(from: member, now: start) == .added) }
        #expect(table.buckets.count == 1)
        // The ninth far node splits the only bucket, lands in the full far half, and waits.
        #expect(table.noteResponse(from: far[8], now: start) == .cached(ping: nil))
        #expect(table.buckets.count == 2)
        #expect(table.buckets[0].entries.count == 8 && table.buckets[0].replacements.map(\.node) == [far[8]])
        // Nearer nodes go on splitting the bucket that covers our id.
        for prefix in 1..<6 {
            for serial in 0..<8 { #expect(table.noteResponse(from: node(prefix: prefix, serial, generator: &generator), now: start) == .added) }
        }
        #expect(table.buckets.count == 6)
        #expect(table.count == 48)
        for (index, bucket) in table.buckets.enumerated() {
            #expect(bucket.entries.allSatisfy { table.bucketIndex(for: $0.node.id) == index })
        }
        #expect(table.noteResponse(from: far[3], now: start + .seconds(1)) == .updated)
    }

    @Test("A member failing twice is bad and replaced by a waiting node that responded")
    func replacementPromotion() {
        var generator = SplitMix64(seed: 2)
        var table = RoutingTable(ownID: own, family: .v4)
        let far = (0..<10).map { node(prefix: 0, $0, generator: &generator) }
        for member in far { _ = table.noteResponse(from: member, now: start) }
        #expect(table.buckets[0].replacements.count == 2)
        #expect(table.noteFailure(of: far[0], now: start) == nil)
        #expect(table.liveness(of: table.entry(for: far[0].id)!, now: start) == .good)
        // The second failure in a row: the most recent replacement takes the place.
        #expect(table.noteFailure(of: far[0], now: start) == far[9])
        #expect(table.entry(for: far[0].id) == nil)
        #expect(table.buckets[0].entries.contains { $0.node == far[9] })
        #expect(table.buckets[0].replacements.map(\.node) == [far[8]])
        // A response in between resets the count.
        _ = table.noteFailure(of: far[1], now: start)
        _ = table.noteResponse(from: far[1], now: start)
        #expect(table.noteFailure(of: far[1], now: start) == nil)
        #expect(table.entry(for: far[1].id)?.failures == 1)
    }

    @Test("Without replacements a bad node stays until a newcomer takes its place, and is never offered")
    func badNodeEvicted() {
        var generator = SplitMix64(seed: 3)
        var table = RoutingTable(ownID: own, family: .v4, configuration: .init(replacementCacheSize: 0))
        let far = (0..<10).map { node(prefix: 0, $0, generator: &generator) }
        for member in far.prefix(8) { _ = table.noteResponse(from: member, now: start) }
        _ = table.noteResponse(from: node(prefix: 1, 0, generator: &generator), now: start)
        table.noteFailure(of: far[2], now: start)
        table.noteFailure(of: far[2], now: start)
        #expect(table.liveness(of: table.entry(for: far[2].id)!, now: start) == .bad)
        #expect(!table.closest(to: far[2].id, count: 100).contains(far[2]))
        #expect(table.noteResponse(from: far[8], now: start) == .added)
        #expect(table.entry(for: far[2].id) == nil)
        // No more room, nothing bad, nothing kept in reserve.
        #expect(table.noteResponse(from: far[9], now: start) == .cached(ping: nil))
        #expect(table.entry(for: far[9].id) == nil)
    }

    @Test("Questionable members are offered for pinging, least recently seen first, one at a time")
    func pingBeforeEviction() {
        var generator = SplitMix64(seed: 4)
        var table = RoutingTable(ownID: own, family: .v4)
        let far = (0..<11).map { node(prefix: 0, $0, generator: &generator) }
        for (index, member) in far.prefix(8).enumerated() { _ = table.noteResponse(from: member, now: start + .seconds(index)) }
        _ = table.noteResponse(from: node(prefix: 1, 0, generator: &generator), now: start)
        let later = start + .seconds(16 * 60)
        #expect(table.noteResponse(from: far[8], now: later) == .cached(ping: far[0]))
        #expect(table.noteResponse(from: far[9], now: later) == .cached(ping: far[1]))
        // far[0] answers the ping: good again, and the next newcomer gets far[2] to ping.
        #expect(table.noteResponse(from: far[0], now: later) == .updated)
        #expect(table.liveness(of: table.entry(for: far[0].id)!, now: later) == .good)
        #expect(table.noteResponse(from: far[10], now: later) == .cached(ping: far[2]))
        // far[1] never answers: after two failures the newest waiting node that answered replaces it.
        table.noteFailure(of: far[1], now: later)
        #expect(table.noteFailure(of: far[1], now: later + .seconds(15)) == far[10])
    }

    @Test("An address holds at most maxNodesPerIP entries; loopback addresses any number")
    func perAddressCap() {
        var generator = SplitMix64(seed: 5)
        let ip = IPAddress.v4(0x0a00_0001)
        let nodes = (0..<4).map { NodeInfo(id: .random(using: &generator), address: PeerAddress(ip: ip, port: 7000 + UInt16($0))) }
        var strict = RoutingTable(ownID: own, family: .v4)
        #expect(strict.noteResponse(from: nodes[0], now: start) == .added)
        #expect(strict.noteResponse(from: nodes[1], now: start) == .rejected(.addressLimit))
        var three = RoutingTable(ownID: own, family: .v4, configuration: .init(maxNodesPerIP: 3))
        #expect(nodes.map { three.noteResponse(from: $0, now: start) } == [.added, .added, .added, .rejected(.addressLimit)])
        var loopback = RoutingTable(ownID: own, family: .v4)
        let local = nodes.map { NodeInfo(id: $0.id, address: PeerAddress(ip: .v4(0x7f00_0001), port: $0.address.port)) }
        #expect(local.map { loopback.noteResponse(from: $0, now: start) } == [.added, .added, .added, .added])
        // The same id at another address is not a second node.
        #expect(three.noteResponse(from: NodeInfo(id: nodes[0].id, address: PeerAddress(ip: .v4(0x0a00_0009), port: 1)), now: start)
            == .rejected(.idConflict))
    }

    @Test("Our own id, port 0, the other family and (when enforced) insecure ids are refused")
    func refusals() throws {
        var generator = SplitMix64(seed: 6)
        var table = RoutingTable(ownID: own, family: .v4, configuration: .init(enforceSecureIDs: true))
        let publicIP = try #require(IPAddress("203.0.113.7"))
        let randomID = NodeID.random(using: &generator)
        #expect(table.noteResponse(from: NodeInfo(id: own, address: PeerAddress(ip: .v4(0x0a00_0001), port: 1)), now: start) == .rejected(.ownID))
        #expect(table.noteResponse(from: NodeInfo(id: randomID, address: PeerAddress(ip: .v4(0x0a00_0001), port: 0)), now: start) == .rejected(.portZero))
        #expect(table.noteResponse(from: NodeInfo(id: randomID, address: PeerAddress(ip: .v6(5), port: 1)), now: start) == .rejected(.wrongFamily))
        #expect(!randomID.isSecure(for: publicIP))
        #expect(table.noteResponse(from: NodeInfo(id: randomID, address: PeerAddress(ip: publicIP, port: 1)), now: start) == .rejected(.insecureID))
        let secure = NodeID.secure(for: publicIP, using: &generator)
        #expect(table.noteResponse(from: NodeInfo(id: secure, address: PeerAddress(ip: publicIP, port: 1)), now: start) == .added)
        // Local addresses are exempt.
        #expect(table.noteResponse(from: NodeInfo(id: randomID, address: PeerAddress(ip: .v4(0xc0a8_0001), port: 1)), now: start) == .added)
    }

    @Test("closest(to:) returns the nearest nodes in order of XOR distance")
    func closestOrdering() {
        var generator = SplitMix64(seed: 7)
        var table = RoutingTable(ownID: .random(using: &generator), family: .v4)
        for serial in 0..<300 {
            let info = NodeInfo(id: .random(using: &generator), address: PeerAddress(ip: .v4(0x0a00_0000 + UInt32(serial)), port: 6881))
            _ = table.noteResponse(from: info, now: start)
        }
        let members = table.buckets.flatMap(\.entries).map(\.node)
        for _ in 0..<20 {
            let target = NodeID.random(using: &generator)
            let expected = members.sorted { $0.id.distance(to: target) < $1.id.distance(to: target) }.prefix(8)
            #expect(table.closest(to: target) == Array(expected))
        }
        #expect(table.closest(to: own, count: 3).count == 3)
    }

    @Test("Queries: known nodes stay good through them, unknown ones are offered for a ping, read-only ones ignored")
    func incomingQueries() {
        var generator = SplitMix64(seed: 8)
        var table = RoutingTable(ownID: own, family: .v4)
        let known = node(prefix: 0, 0, generator: &generator)
        _ = table.noteResponse(from: known, now: start)
        #expect(table.noteQuery(from: known, isReadOnly: false, now: start + .seconds(14 * 60)) == nil)
        let entry = table.entry(for: known.id)!
        #expect(table.liveness(of: entry, now: start + .seconds(20 * 60)) == .good)
        #expect(table.liveness(of: entry, now: start + .seconds(30 * 60)) == .questionable)
        let stranger = node(prefix: 3, 0, generator: &generator)
        #expect(table.noteQuery(from: stranger, isReadOnly: false, now: start) == stranger)
        #expect(table.noteQuery(from: stranger, isReadOnly: true, now: start) == nil)
        #expect(table.entry(for: stranger.id) == nil)
    }

    @Test("Stale buckets need a refresh, with a target inside each")
    func refresh() {
        var generator = SplitMix64(seed: 9)
        var table = RoutingTable(ownID: .random(using: &generator), family: .v4)
        #expect(table.bucketsNeedingRefresh(now: start) == [0])
        for serial in 0..<100 {
            _ = table.noteResponse(from: NodeInfo(id: .random(using: &generator), address: PeerAddress(ip: .v4(0x0a00_0000 + UInt32(serial)), port: 1)),
                                   now: start)
        }
        #expect(table.bucketsNeedingRefresh(now: start + .seconds(60)).isEmpty)
        #expect(table.bucketsNeedingRefresh(now: start + .seconds(15 * 60)) == Array(table.buckets.indices))
        for index in table.buckets.indices {
            for _ in 0..<5 { #expect(table.bucketIndex(for: table.refreshTarget(forBucket: index, using: &generator)) == index) }
        }
    }

    @Test("The table saves and loads; loaded nodes are questionable; bad saves are refused")
    func persistence() throws {
        var generator = SplitMix64(seed: 10)
        var table = RoutingTable(ownID: .random(using: &generator), family: .v6)
        for serial in 0..<60 {
            let info = NodeInfo(id: .random(using: &generator), address: PeerAddress(ip: .v6(0x2001_0db8 << 96 | UInt128(serial)), port: 6881))
            _ = table.noteResponse(from: info, now: start)
        }
        let saved = table.encodeForPersistence()
        let loaded = try RoutingTable(persisted: saved, family: .v6)
        #expect(loaded.ownID == table.ownID)
        #expect(Set(loaded.buckets.flatMap(\.entries).map(\.node)) == Set(table.buckets.flatMap(\.entries).map(\.node)))
        #expect(loaded.buckets.flatMap(\.entries).allSatisfy { loaded.liveness(of: $0, now: start) == .questionable })
        #expect(loaded.bucketsNeedingRefresh(now: start).count == loaded.buckets.count)
        #expect(loaded.closest(to: table.ownID, count: 8, verifiedOnly: true).isEmpty)
        #expect(loaded.closest(to: table.ownID, count: 8).count == 8)
        #expect(throws: RoutingTablePersistenceError.self) { try RoutingTable(persisted: saved, family: .v4) }
        #expect(throws: RoutingTablePersistenceError.self) { try RoutingTable(persisted: Array("d2:id3:abc5:nodeslee".utf8), family: .v4) }
        #expect(throws: RoutingTablePersistenceError.self) { try RoutingTable(persisted: Array("garbage".utf8), family: .v4) }
        let huge = "d2:id20:\(String(repeating: "a", count: 20))5:nodesl" + String(repeating: "26:\(String(repeating: "b", count: 26))", count: 1281) + "ee"
        #expect(throws: RoutingTablePersistenceError.self) { try RoutingTable(persisted: Array(huge.utf8), family: .v4) }
    }
}
