import Metainfo
import Testing
@testable import DHT

/// Nodes on a virtual network in one process: datagrams are delivered in order after each step, time is virtual.
struct VirtualNetwork {
    var nodes: [DHTNode] = []
    var addresses: [PeerAddress] = []
    var index: [PeerAddress: Int] = [:]
    var now: ContinuousClock.Instant
    var events: [[DHTNode.Event]] = []
    /// Datagrams to drop, by a predicate on (from, to).
    var drop: (PeerAddress, PeerAddress) -> Bool = { _, _ in false }

    init(count: Int, configuration: DHTNode.Configuration = DHTNode.Configuration()) {
        now = ContinuousClock.now
        var random = SplitMix64(seed: 42)
        for i in 0..<count {
            let address = PeerAddress(ip: .v4(0x0A00_0000 | UInt32(i + 1)), port: 6881)
            addresses.append(address)
            index[address] = i
            nodes.append(DHTNode(id: .random(using: &random), families: [.v4], configuration: configuration, now: now, seed: UInt64(i)))
        }
        events = Array(repeating: [], count: count)
    }

    /// Delivers everything sent, then what that caused, until quiet; then advances time by `step` and ticks.
    mutating func run(for duration: Duration, step: Duration = .milliseconds(100)) {
        let end = now + duration
        while now < end {
            var queue: [(from: Int, datagram: DHTNode.Datagram)] = []
            for i in nodes.indices {
                let output = nodes[i].takeOutput()
                events[i] += output.events
                queue += output.datagrams.map { (i, $0) }
            }
            if queue.isEmpty {
                now += step
                for i in nodes.indices { nodes[i].tick(now: now) }
                continue
            }
            for (from, datagram) in queue {
                guard let to = index[datagram.address], !drop(addresses[from], datagram.address) else { continue }
                nodes[to].receive(datagram.bytes, from: addresses[from], now: now)
            }
        }
    }
}

@Suite struct DHTNodeTests {
    @Test("Sixty nodes bootstrapped from one fill their tables; a peer announced by one is found by another")
    func announceAndFind() {
        var network = VirtualNetwork(count: 60)
        for i in 1..<network.nodes.count {
            network.nodes[i].bootstrap(from: [network.addresses[0]], now: network.now)
            network.run(for: .milliseconds(200))
        }
        network.run(for: .seconds(5))
        #expect(network.nodes.allSatisfy { $0.nodeCount >= 8 }, "\(network.nodes.map(\.nodeCount))")

        let infoHash = SHA1Hash.of(Array("a torrent".utf8))
        network.events[7] = []
        network.nodes[7].findPeers(infoHash, announcePort: 51413, now: network.now)
        network.run(for: .seconds(5))
        // Refreshes of its buckets end too; the get_peers lookup is the one whose target is the info-hash.
        let announced = network.events[7].compactMap { event -> Int? in
            if case .lookupFinished(_, NodeID(infoHash), _, _, _, let announcedTo) = event { return announcedTo }
            return nil
        }
        #expect(announced == [8])

        network.nodes[33].findPeers(infoHash, announcePort: nil, now: network.now)
        network.run(for: .seconds(5))
        let found = network.events[33].flatMap { event -> [PeerAddress] in
            if case .peers(infoHash, let peers) = event { return peers }
            return []
        }
        #expect(found == [PeerAddress(ip: network.addresses[7].ip, port: 51413)])
    }

    @Test("Replies to queries never sent, or from another address, and malformed datagrams are dropped and counted")
    func hostileInput() {
        var network = VirtualNetwork(count: 2)
        let stranger = PeerAddress(ip: .v4(0x0B00_0001), port: 1)
        let reply = KRPCMessage(transactionID: TransactionID(7), body: .response(.init(id: NodeID.zero))).encoded()
        network.nodes[0].receive(reply, from: stranger, now: network.now)
        network.nodes[0].receive(Array("d1:y1:qe".utf8), from: stranger, now: network.now)
        network.nodes[0].receive([UInt8](repeating: 0x64, count: 5000), from: stranger, now: network.now)
        // A query to node 1, answered by someone else.
        network.nodes[0].bootstrap(from: [network.addresses[1]], now: network.now)
        let query = network.nodes[0].takeOutput().datagrams[0]
        let decoded = try? KRPCMessage(decoding: query.bytes)
        let forged = KRPCMessage(transactionID: decoded!.transactionID, body: .response(.init(id: NodeID.zero))).encoded()
        network.nodes[0].receive(forged, from: stranger, now: network.now)
        #expect(network.nodes[0].statistics.unsolicited == 2)
        #expect(network.nodes[0].statistics.malformed == 2)
        #expect(network.nodes[0].nodeCount == 0)
    }

    @Test("Queries over the per-source rate are dropped; a read-only node answers none")
    func rateAndReadOnly() {
        var configuration = DHTNode.Configuration()
        configuration.queriesPerSourcePerSecond = 5
        var node = DHTNode(id: NodeID(SHA1Hash.of([1])), families: [.v4], configuration: configuration, now: .now, seed: 1)
        let source = PeerAddress(ip: .v4(0x0B00_0001), port: 1)
        let ping = KRPCMessage(transactionID: TransactionID(1), body: .query(.init(sender: NodeID(SHA1Hash.of([2])), method: .ping))).encoded()
        let now = ContinuousClock.now
        for _ in 0..<8 { node.receive(ping, from: source, now: now) }
        #expect(node.statistics.queriesAnswered == 5 && node.statistics.rateLimited == 3)
        node.receive(ping, from: source, now: now + .seconds(2))
        #expect(node.statistics.queriesAnswered == 6)

        configuration.readOnly = true
        var readOnly = DHTNode(id: NodeID(SHA1Hash.of([3])), families: [.v4], configuration: configuration, now: now, seed: 2)
        readOnly.receive(ping, from: source, now: now)
        #expect(readOnly.takeOutput().datagrams.isEmpty)
        readOnly.bootstrap(from: [source], now: now)
        let sent = readOnly.takeOutput().datagrams.compactMap { try? KRPCMessage(decoding: $0.bytes) }
        #expect(sent.count == 1 && sent.allSatisfy(\.isReadOnly))
    }

    @Test("announce_peer needs the token given to that address; get_peers replies stay within the size cap")
    func tokensAndReplySize() throws {
        var node = DHTNode(id: NodeID(SHA1Hash.of([1])), families: [.v4], now: .now, seed: 1)
        let infoHash = SHA1Hash.of([9])
        let now = ContinuousClock.now
        func query(_ method: KRPCMessage.Method, from address: PeerAddress) throws -> KRPCMessage {
            let message = KRPCMessage(transactionID: TransactionID(1), body: .query(.init(sender: NodeID(SHA1Hash.of([2])), method: method)))
            node.receive(message.encoded(), from: address, now: now)
            return try KRPCMessage(decoding: try #require(node.takeOutput().datagrams.last).bytes)
        }
        let asker = PeerAddress(ip: .v4(0x0B00_0001), port: 1)
        guard case .response(let first) = try query(.getPeers(infoHash: infoHash, want: []), from: asker).body,
              let token = first.token else { Issue.record("no token"); return }
        let other = PeerAddress(ip: .v4(0x0B00_0002), port: 1)
        guard case .error(let refused) = try query(.announcePeer(infoHash: infoHash, port: 6881, impliedPort: false, token: token), from: other).body
        else { Issue.record("a token given to another address was taken"); return }
        #expect(refused.code == 203)
        // 300 peers announce (each with its own token); a reply then carries as many as fit in 1200 bytes.
        for i in 0..<300 {
            let address = PeerAddress(ip: .v4(0x0C00_0000 | UInt32(i)), port: 2)
            guard case .response(let answer) = try query(.getPeers(infoHash: infoHash, want: []), from: address).body,
                  let token = answer.token else { continue }
            _ = try query(.announcePeer(infoHash: infoHash, port: 6881, impliedPort: false, token: token), from: address)
        }
        #expect(node.statistics.peersAnnouncedToUs == 300)
        let message = KRPCMessage(transactionID: TransactionID(1), body: .query(.init(sender: NodeID(SHA1Hash.of([2])),
                                                                                         method: .getPeers(infoHash: infoHash, want: []))))
        node.receive(message.encoded(), from: asker, now: now + .seconds(1))
        let reply = try #require(node.takeOutput().datagrams.last)
        #expect(reply.bytes.count <= 1200)
        guard case .response(let full) = try KRPCMessage(decoding: reply.bytes).body else { return }
        #expect(full.values.count > 50)
    }
}

@Suite struct SecureIDTests {
    @Test("Once answers from five networks agree on our external address, the node takes an id secure for it and keeps its table")
    func takesSecureID() throws {
        let now = ContinuousClock.now
        var node = DHTNode(id: NodeID(SHA1Hash.of([1])), families: [.v4], now: now, seed: 3)
        let external = PeerAddress(ip: IPAddress("203.0.113.7")!, port: 6881)
        // Five different /24 networks: answers from one network count once.
        let responders = (1...5).map { PeerAddress(ip: .v4(0x0A00_0001 | UInt32($0) << 8), port: 6881) }
        node.bootstrap(from: responders, now: now)
        let queries = node.takeOutput().datagrams
        #expect(queries.count == 3)
        var answered = 0
        // Answer each query (the lookup asks the others as answers come), naming our address.
        var waiting = queries
        while let query = waiting.first {
            waiting.removeFirst()
            let decoded = try KRPCMessage(decoding: query.bytes)
            let id = NodeID(SHA1Hash.of(query.address.compact))
            let reply = KRPCMessage(transactionID: decoded.transactionID, body: .response(.init(id: id)), requesterAddress: external)
            node.receive(reply.encoded(), from: query.address, now: now)
            answered += 1
            waiting += node.takeOutput().datagrams.filter { datagram in
                (try? KRPCMessage(decoding: datagram.bytes)).map { if case .query = $0.body { true } else { false } } ?? false
            }
        }
        #expect(answered >= 5)
        #expect(node.id.isSecure(for: external.ip))
        #expect(node.nodeCount == 5)
    }

    @Test("A node at a public address whose id is not secure for it does not enter the table; one with a secure id does")
    func enforced() throws {
        let now = ContinuousClock.now
        var node = DHTNode(id: NodeID(SHA1Hash.of([1])), families: [.v4], now: now, seed: 4)
        let stranger = PeerAddress(ip: IPAddress("198.51.100.9")!, port: 6881)
        var random = SplitMix64(seed: 9)
        for (id, admitted) in [(NodeID.random(using: &random), 0), (NodeID.secure(for: stranger.ip, using: &random), 1)] {
            node.bootstrap(from: [stranger], now: now)
            let query = try KRPCMessage(decoding: try #require(node.takeOutput().datagrams.first).bytes)
            node.receive(KRPCMessage(transactionID: query.transactionID, body: .response(.init(id: id))).encoded(), from: stranger, now: now)
            _ = node.takeOutput()
            #expect(node.nodeCount == admitted)
        }
    }
}
