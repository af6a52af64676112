import Metainfo
import Testing
@testable import DHT

private let start = ContinuousClock.now

/// An in-memory DHT: every node has a real routing table holding every other node, answers instantly unless
/// it is dead, and stores peers for the info-hashes it was given.
private struct FakeNetwork {
    var nodes: [PeerAddress: (id: NodeID, table: RoutingTable)] = [:]
    var all: [NodeInfo] = []
    var dead: Set<PeerAddress> = []
    var stored: [PeerAddress: [PeerAddress]] = [:]

    init(count: Int, generator: inout SplitMix64) {
        all = (0..<count).map { serial in
            NodeInfo(id: .random(using: &generator), address: PeerAddress(ip: .v4(0x0a00_0000 + UInt32(serial)), port: 6881))
        }
        for me in all {
            var table = RoutingTable(ownID: me.id, family: .v4)
            for other in all where other != me { _ = table.noteResponse(from: other, now: start) }
            nodes[me.address] = (me.id, table)
        }
    }

    func trueClosest(to target: NodeID, count: Int = 8, excluding excluded: Set<PeerAddress> = []) -> [NodeID] {
        all.filter { !excluded.contains($0.address) }.map(\.id).sorted { $0.distance(to: target) < $1.distance(to: target) }
            .prefix(count).map { $0 }
    }

    /// Runs `lookup` to the end, advancing virtual time by `step` whenever nothing can be sent.
    func run(_ lookup: inout Lookup, step: Duration = .milliseconds(250)) -> (steps: Int, maxOutstanding: Int) {
        var now = start
        var steps = 0
        var maxOutstanding = 0
        while !lookup.isFinished, steps < 10_000 {
            let queries = lookup.next(now: now)
            maxOutstanding = max(maxOutstanding, lookup.outstandingQueries)
            for address in queries where !dead.contains(address) {
                guard let node = nodes[address] else { continue }
                let token = Array(node.id.bytes.prefix(4))
                lookup.received(from: address, id: node.id, nodes: node.table.closest(to: lookup.target), values: stored[address] ?? [],
                                token: token)
            }
            if queries.allSatisfy({ dead.contains($0) }) { now += step }
            steps += 1
        }
        return (steps, maxOutstanding)
    }
}

@Suite struct LookupTests {
    @Test("On a 500-node network, lookups find exactly the 8 nodes nearest the target, in a few hops")
    func convergence() throws {
        var generator = SplitMix64(seed: 500)
        let network = FakeNetwork(count: 500, generator: &generator)
        for round in 0..<10 {
            let target = NodeID.random(using: &generator)
            let origin = network.all[round * 37]
            let seeds = try #require(network.nodes[origin.address]).table.closest(to: target)
            var lookup = Lookup(target: target, family: .v4, seeds: seeds)
            let run = network.run(&lookup)
            #expect(lookup.isFinished)
            #expect(lookup.closest.map(\.node.id) == network.trueClosest(to: target))
            #expect(lookup.closest.allSatisfy { $0.token == Array($0.node.id.bytes.prefix(4)) })
            #expect(lookup.queriesSent <= 40 && lookup.queriesSent >= 8)
            #expect(lookup.hops >= 1 && lookup.hops <= 6)
            #expect(run.maxOutstanding <= 3)
            #expect(lookup.next(now: start + .seconds(60)).isEmpty)
        }
    }

    @Test("get_peers lookups collect the peers stored near the info-hash, without repeats")
    func findsPeers() throws {
        var generator = SplitMix64(seed: 501)
        var network = FakeNetwork(count: 200, generator: &generator)
        let infoHash = NodeID.random(using: &generator)
        let swarm = [PeerAddress(ip: .v4(0xc000_0201), port: 1), PeerAddress(ip: .v4(0xc000_0202), port: 2)]
        for node in network.all where network.trueClosest(to: infoHash).contains(node.id) { network.stored[node.address] = swarm }
        var lookup = Lookup(target: infoHash, family: .v4, seeds: Array(network.all.prefix(3)))
        _ = network.run(&lookup)
        #expect(lookup.peers == swarm)
    }

    @Test("With a third of the network dead, lookups still converge on the nearest live nodes, without stalling")
    func deadNodes() throws {
        var generator = SplitMix64(seed: 502)
        var network = FakeNetwork(count: 300, generator: &generator)
        network.dead = Set(network.all.enumerated().filter { $0.offset % 3 == 1 }.map(\.element.address))
        for round in 0..<5 {
            let target = NodeID.random(using: &generator)
            let origin = network.all[round * 3]
            var lookup = Lookup(target: target, family: .v4, seeds: network.nodes[origin.address]!.table.closest(to: target))
            let run = network.run(&lookup)
            #expect(lookup.isFinished)
            // Tables still list the dead, so a live node can go unmentioned: ask for the nearest exactly and
            // nearly all of the rest, every one of them alive.
            let found = lookup.closest.map(\.node)
            let truth = network.trueClosest(to: target, excluding: network.dead)
            #expect(found.count == 8 && found.allSatisfy { !network.dead.contains($0.address) })
            #expect(found.first?.id == truth.first)
            #expect(Set(found.map(\.id)).intersection(truth).count >= 6)
            #expect(run.maxOutstanding <= 3)
            // Short timeouts keep it moving: far less virtual time than one full timeout per dead node met.
            #expect(run.steps < 1000)
        }
    }

    @Test("A silent node is asked once more after the short timeout; a lost answer does not lose the node")
    func retry() {
        var generator = SplitMix64(seed: 504)
        let target = NodeID.random(using: &generator)
        let seeds = (0..<4).map { NodeInfo(id: target.flippingBit(at: 159 - $0), address: PeerAddress(ip: .v4(0x0a00_0001 + UInt32($0)), port: 1)) }
        var lookup = Lookup(target: target, family: .v4, seeds: seeds)
        #expect(lookup.next(now: start) == seeds.prefix(3).map(\.address))
        lookup.received(from: seeds[1].address, id: seeds[1].id, nodes: [])
        lookup.received(from: seeds[2].address, id: seeds[2].id, nodes: [])
        // The nearest did not answer in a second: it is asked again, beside the fourth.
        #expect(lookup.next(now: start + .seconds(1)) == [seeds[0].address, seeds[3].address])
        lookup.received(from: seeds[0].address, id: seeds[0].id, nodes: [])
        lookup.received(from: seeds[3].address, id: seeds[3].id, nodes: [])
        #expect(lookup.isFinished)
        #expect(lookup.closest.map(\.node) == seeds && lookup.queriesSent == 5)
    }

    @Test("Without retries, a silent node stops counting after the short timeout, and fails after the full one")
    func timeouts() {
        var generator = SplitMix64(seed: 503)
        let target = NodeID.random(using: &generator)
        let seeds = (0..<4).map { NodeInfo(id: target.flippingBit(at: 159 - $0), address: PeerAddress(ip: .v4(0x0a00_0001 + UInt32($0)), port: 1)) }
        var lookup = Lookup(target: target, family: .v4, seeds: seeds, configuration: .init(retries: 0))
        #expect(lookup.next(now: start) == seeds.prefix(3).map(\.address))
        #expect(lookup.next(now: start + .milliseconds(500)).isEmpty)
        // The first three are slow now: the fourth goes out.
        #expect(lookup.next(now: start + .seconds(1)) == [seeds[3].address])
        #expect(lookup.outstandingQueries == 1)
        // As in libtorrent, slow queries do not hold the lookup open: the one answer ends it.
        lookup.received(from: seeds[3].address, id: seeds[3].id, nodes: [])
        #expect(lookup.isFinished)
        // A slow node may still answer, and counts.
        lookup.received(from: seeds[0].address, id: seeds[0].id, nodes: [])
        // The others time out for good; only the answers remain.
        #expect(lookup.next(now: start + .seconds(15)).isEmpty)
        lookup.received(from: seeds[1].address, id: seeds[1].id, nodes: [])
        #expect(lookup.closest.map(\.node) == [seeds[0], seeds[3]])
        #expect(lookup.responses == 2 && lookup.queriesSent == 4)
    }

    @Test("Failures, wrong ids and unsolicited answers; the query cap ends a lookup")
    func failuresAndCap() {
        var generator = SplitMix64(seed: 504)
        let target = NodeID.random(using: &generator)
        let seeds = (0..<3).map { NodeInfo(id: .random(using: &generator), address: PeerAddress(ip: .v4(0x0a00_0001 + UInt32($0)), port: 1)) }
        var lookup = Lookup(target: target, family: .v4, seeds: seeds)
        let sent = lookup.next(now: start)
        lookup.failed(sent[0])
        lookup.received(from: sent[1], id: .random(using: &generator), nodes: [])  // not the id it was known by
        lookup.received(from: PeerAddress(ip: .v4(0x0a00_00ff), port: 1), id: target, nodes: [])  // never asked
        #expect(lookup.responses == 0)
        lookup.received(from: sent[2], id: seeds.first { $0.address == sent[2] }!.id, nodes: [])
        #expect(lookup.isFinished && lookup.closest.count == 1)

        // An endless supply of new nodes: the cap stops it.
        var capped = Lookup(target: target, family: .v4, seeds: seeds, configuration: .init(maxQueries: 5))
        var now = start
        var serial: UInt32 = 100
        while !capped.isFinished {
            for address in capped.next(now: now) {
                let fresh = (0..<8).map { _ in
                    serial += 1
                    return NodeInfo(id: target.randomized(keepingPrefix: Int(serial % 150), using: &generator),
                                    address: PeerAddress(ip: .v4(0x0a00_0000 + serial), port: 1))
                }
                capped.received(from: address, id: seeds.first { $0.address == address }?.id ?? .zero, nodes: fresh)
            }
            now += .seconds(1)
            if now > start + .seconds(100) { break }
        }
        #expect(capped.isFinished && capped.queriesSent == 5)
    }

    @Test("A bootstrap address without an id is asked, and its answer places it by its id")
    func bootstrap() {
        var generator = SplitMix64(seed: 505)
        let target = NodeID.random(using: &generator)
        let router = PeerAddress(ip: .v4(0x0a09_0909), port: 6881)
        let routerID = NodeID.random(using: &generator)
        var lookup = Lookup(target: target, family: .v4, seeds: [], bootstrap: [router])
        #expect(lookup.next(now: start) == [router])
        let near = NodeInfo(id: target.flippingBit(at: 159), address: PeerAddress(ip: .v4(0x0a00_0001), port: 1))
        lookup.received(from: router, id: routerID, nodes: [near, NodeInfo(id: routerID, address: router)])
        #expect(lookup.next(now: start) == [near.address])
        lookup.received(from: near.address, id: near.id, nodes: [])
        #expect(lookup.isFinished)
        #expect(lookup.closest.map(\.node) == [near, NodeInfo(id: routerID, address: router)])
    }

    @Test("Under BEP 42 enforcement, an insecure node's nodes are used but it does not count as an answer")
    func enforcement() throws {
        var generator = SplitMix64(seed: 506)
        let target = NodeID.random(using: &generator)
        let ip = try #require(IPAddress("203.0.113.50"))
        let insecure = NodeInfo(id: NodeID.random(using: &generator), address: PeerAddress(ip: ip, port: 1))
        let local = NodeInfo(id: NodeID.random(using: &generator), address: PeerAddress(ip: .v4(0x0a00_0001), port: 1))
        var lookup = Lookup(target: target, family: .v4, seeds: [insecure], configuration: .init(enforceSecureIDs: true))
        _ = lookup.next(now: start)
        lookup.received(from: insecure.address, id: insecure.id, nodes: [local], token: [1])
        #expect(lookup.closest.isEmpty)
        #expect(lookup.next(now: start) == [local.address])
    }
}
