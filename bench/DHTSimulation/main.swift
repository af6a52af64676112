// A simulated DHT: thousands of Shoal DHT nodes (the real DHTNode, sans I/O) in one process, on a virtual
// network with delay and loss and a virtual clock. Built and run by bench/dht.sh; see there for the options.
#if canImport(Glibc)
import Glibc
#endif
import DHT
import Metainfo

/// A binary min-heap of datagrams in flight, by delivery time.
struct Flight {
    struct Packet {
        let at: Duration
        let order: Int
        let from: Int32
        let to: Int32
        let bytes: [UInt8]
    }

    private var items: [Packet] = []
    private var order = 0
    var isEmpty: Bool { items.isEmpty }
    var nextTime: Duration? { items.first?.at }

    private static func before(_ a: Packet, _ b: Packet) -> Bool { a.at < b.at || (a.at == b.at && a.order < b.order) }

    mutating func push(at: Duration, from: Int, to: Int, bytes: [UInt8]) {
        order += 1
        items.append(Packet(at: at, order: order, from: Int32(from), to: Int32(to), bytes: bytes))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.before(items[child], items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Packet? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count, Self.before(items[left], items[smallest]) { smallest = left }
            if right < items.count, Self.before(items[right], items[smallest]) { smallest = right }
            guard smallest != parent else { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}

func environment(_ name: String, _ fallback: Double) -> Double {
    getenv(name).flatMap { Double(String(cString: $0)) } ?? fallback
}

/// Resident anonymous memory of this process, in bytes (RssAnon).
func anonymousMemory() -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("RssAnon:") {
            return (Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
    }
    return 0
}

let nodeCount = Int(environment("NODES", 10_000))
let lookupCount = Int(environment("LOOKUPS", 200))
let loss = environment("LOSS", 0.05)
let minimumDelay = environment("DELAY_MIN_MS", 10)
let maximumDelay = environment("DELAY_MAX_MS", 150)
var random = SplitMix64(seed: UInt64(environment("SEED", 1)))

let origin = ContinuousClock.now
var now = Duration.zero
var flight = Flight()
var sent = 0
var lost = 0

let memoryBefore = anonymousMemory()
var addresses: [PeerAddress] = []
var index: [PeerAddress: Int] = [:]
var nodes: [DHTNode] = []
nodes.reserveCapacity(nodeCount)
for i in 0..<nodeCount {
    // 10.0.0.0/8, one address per node, so the one-node-per-address rule of real tables applies.
    let address = PeerAddress(ip: .v4(0x0A00_0000 | UInt32(i + 1)), port: 6881)
    addresses.append(address)
    index[address] = i
    nodes.append(DHTNode(id: .random(using: &random), families: [.v4], now: origin, seed: random.next()))
}

/// Sends what node `i` produced into the network and hands back its events.
@MainActor func collect(_ i: Int) -> [DHTNode.Event] {
    let (datagrams, events) = nodes[i].takeOutput()
    for datagram in datagrams {
        sent += 1
        guard let to = index[datagram.address] else { continue }
        if Double.random(in: 0..<1, using: &random) < loss {
            lost += 1
            continue
        }
        let delay = Duration.milliseconds(Double.random(in: minimumDelay...maximumDelay, using: &random))
        flight.push(at: now + delay, from: i, to: to, bytes: datagram.bytes)
    }
    return events
}

/// Events per node, gathered while the network runs.
var events: [Int: [(at: Duration, event: DHTNode.Event)]] = [:]
var watched = Set<Int>()
let tickEvery = Duration.milliseconds(250)
var nextTick = tickEvery

/// Runs the network until `end`: packets in time order; nodes with queries under way ticked every 250 ms, the
/// others every 5 s (their maintenance interval), which is all an idle node needs.
@MainActor func run(until end: Duration) {
    while now < end {
        let packetTime = flight.nextTime ?? end
        if nextTick <= packetTime, nextTick <= end {
            now = nextTick
            nextTick += tickEvery
            let everyone = Int(now / tickEvery) % 20 == 0
            for i in nodes.indices where everyone || nodes[i].isBusy {
                nodes[i].tick(now: origin + now)
                let produced = collect(i)
                if watched.contains(i), !produced.isEmpty { events[i, default: []] += produced.map { (now, $0) } }
            }
            continue
        }
        guard packetTime <= end, let packet = flight.pop() else {
            now = end
            break
        }
        now = packet.at
        let to = Int(packet.to)
        nodes[to].receive(packet.bytes, from: addresses[Int(packet.from)], now: origin + now)
        let produced = collect(to)
        if watched.contains(to), !produced.isEmpty { events[to, default: []] += produced.map { (now, $0) } }
    }
}

// Join: each node bootstraps from a random node that joined before it, 50 nodes every 100 virtual ms.
let wallStart = ContinuousClock.now
for i in 1..<nodeCount {
    let through = Int.random(in: 0..<i, using: &random)
    nodes[i].bootstrap(from: [addresses[through]], now: origin + now)
    _ = collect(i)
    if i % 50 == 0 { run(until: now + .milliseconds(100)) }
}
run(until: now + .seconds(60))
let joined = now
let tableSizes = nodes.map(\.nodeCount).sorted()
let memoryAfter = anonymousMemory()

// Lookups, all at once as in a busy network: LOOKUPS random nodes each announce an info-hash of their own; 20
// virtual seconds later as many other random nodes (each a seeker once) look one up each.
var hops: [Int] = []
var firstPeerTimes: [Duration] = []
var finishTimes: [Duration] = []
var found = 0
var queries: [Int] = []
var pairs: [(infoHash: SHA1Hash, announcer: Int, seeker: Int)] = []
var seekers = Set<Int>()
for round in 0..<lookupCount {
    let announcer = Int.random(in: 0..<nodeCount, using: &random)
    var seeker = Int.random(in: 0..<nodeCount, using: &random)
    while seeker == announcer || seekers.contains(seeker) { seeker = Int.random(in: 0..<nodeCount, using: &random) }
    seekers.insert(seeker)
    pairs.append((SHA1Hash.of(Array("simulated torrent \(round)".utf8)), announcer, seeker))
}
for pair in pairs {
    nodes[pair.announcer].findPeers(pair.infoHash, announcePort: 40_000, now: origin + now)
    _ = collect(pair.announcer)
}
run(until: now + .seconds(20))
watched = seekers
let started = now
for pair in pairs {
    events[pair.seeker] = []
    nodes[pair.seeker].findPeers(pair.infoHash, announcePort: nil, now: origin + now)
    _ = collect(pair.seeker)
}
run(until: now + .seconds(30))
for pair in pairs {
    let expected = PeerAddress(ip: addresses[pair.announcer].ip, port: 40_000)
    let target = NodeID(pair.infoHash)
    var gotPeer = false
    for (at, event) in events[pair.seeker] ?? [] {
        switch event {
        case .peers(pair.infoHash, let peers):
            if !gotPeer, peers.contains(expected) {
                gotPeer = true
                firstPeerTimes.append(at - started)
            }
        case .lookupFinished(_, target, let lookupHops, let sentQueries, _, _):
            hops.append(lookupHops)
            queries.append(sentQueries)
            finishTimes.append(at - started)
        default:
            continue
        }
    }
    if gotPeer { found += 1 }
}
let wall = ContinuousClock.now - wallStart

func percentile<T: Comparable>(_ values: [T], _ p: Double) -> T? {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return nil }
    return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
}
func seconds(_ d: Duration?) -> String {
    guard let d else { return "-" }
    return String(((Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) * 1000).rounded() / 1000)
}

print("DHT simulation: \(nodeCount) Shoal DHT nodes, loss \(Int(loss * 100)) %, one-way delay \(Int(minimumDelay))-\(Int(maximumDelay)) ms")
print("joined in \(seconds(joined)) virtual s; table size median \(percentile(tableSizes, 0.5) ?? 0), 5th percentile \(percentile(tableSizes, 0.05) ?? 0)")
print("| measurement | median | 95th percentile |")
print("| --- | ---: | ---: |")
print("| get_peers hops | \(percentile(hops, 0.5).map(String.init) ?? "-") | \(percentile(hops, 0.95).map(String.init) ?? "-") |")
print("| get_peers queries sent | \(percentile(queries, 0.5).map(String.init) ?? "-") | \(percentile(queries, 0.95).map(String.init) ?? "-") |")
print("| seconds to the announced peer | \(seconds(percentile(firstPeerTimes, 0.5))) | \(seconds(percentile(firstPeerTimes, 0.95))) |")
print("| seconds to the end of the lookup | \(seconds(percentile(finishTimes, 0.5))) | \(seconds(percentile(finishTimes, 0.95))) |")
let foundShare: Double = Double(found) * 100 / Double(max(1, lookupCount))
print("lookups that found the announced peer: \(found) of \(lookupCount) (\(foundShare) %)")
print("memory per node: \((memoryAfter - memoryBefore) / max(1, nodeCount)) bytes (anonymous memory after joining, all nodes)")
print("datagrams sent \(sent), lost \(lost); wall time \(seconds(wall)) s")
