import Metainfo
import NIOCore
import Tracker

/// Where a tracked IPv4 peer listens, in 6 bytes (three 16-bit halves, so an array of them has no padding).
struct V4Peer: Hashable, Comparable {
    let high: UInt16
    let low: UInt16
    let port: UInt16
    init(ip: UInt32, port: UInt16) {
        high = UInt16(truncatingIfNeeded: ip >> 16)
        low = UInt16(truncatingIfNeeded: ip)
        self.port = port
    }
    static func < (lhs: V4Peer, rhs: V4Peer) -> Bool { (lhs.high, lhs.low, lhs.port) < (rhs.high, rhs.low, rhs.port) }
    static var compactWidth: Int { 6 }
    func storeCompact(to memory: UnsafeMutableRawBufferPointer, at offset: Int) {
        memory.storeBytes(of: high.bigEndian, toByteOffset: offset, as: UInt16.self)
        memory.storeBytes(of: low.bigEndian, toByteOffset: offset + 2, as: UInt16.self)
        memory.storeBytes(of: port.bigEndian, toByteOffset: offset + 4, as: UInt16.self)
    }
}

/// An IPv6 peer.
struct V6Peer: Hashable, Comparable {
    let ip: UInt128
    let port: UInt16
    static func < (lhs: V6Peer, rhs: V6Peer) -> Bool { (lhs.ip, lhs.port) < (rhs.ip, rhs.port) }
    static var compactWidth: Int { 18 }
    func storeCompact(to memory: UnsafeMutableRawBufferPointer, at offset: Int) {
        memory.storeBytes(of: UInt64(truncatingIfNeeded: ip >> 64).bigEndian, toByteOffset: offset, as: UInt64.self)
        memory.storeBytes(of: UInt64(truncatingIfNeeded: ip).bigEndian, toByteOffset: offset + 8, as: UInt64.self)
        memory.storeBytes(of: port.bigEndian, toByteOffset: offset + 16, as: UInt16.self)
    }
}

protocol CompactPeer: Comparable {
    /// Bytes of the compact form (BEP 23, BEP 7).
    static var compactWidth: Int { get }
    /// Stores the compact form at `offset`, which has room for it.
    func storeCompact(to memory: UnsafeMutableRawBufferPointer, at offset: Int)
}

extension V4Peer: CompactPeer {}
extension V6Peer: CompactPeer {}

/// One address family's peers of a swarm, in two parallel arrays kept sorted by peer: a binary search finds a
/// peer, and an IPv4 peer costs 6 bytes of address and port and a 2-byte stamp, with no hash table beside them.
struct PeerTable<Peer: CompactPeer> {
    private(set) var peers: [Peer] = []
    /// The minute (since the tracker started, modulo 2¹⁵) the peer was last heard from; the top bit marks a
    /// seeder. Ages are taken modulo 2¹⁵ minutes (22 days), far beyond any peer timeout: expiry runs every minute.
    private(set) var stamps: [UInt16] = []
    private(set) var seeders = 0

    static var seederBit: UInt16 { 1 << 15 }

    var count: Int { peers.count }

    private func position(of peer: Peer) -> (index: Int, found: Bool) {
        var low = 0
        var high = peers.count
        while low < high {
            let middle = (low + high) / 2
            if peers[middle] < peer { low = middle + 1 } else { high = middle }
        }
        return (low, low < peers.count && peers[low] == peer)
    }

    /// Records that `peer` announced in `minute`; returns false when it is new and the table already holds
    /// `limit` peers.
    mutating func update(_ peer: Peer, seeder: Bool, minute: UInt16, limit: Int) -> Bool {
        let stamp = minute & ~Self.seederBit | (seeder ? Self.seederBit : 0)
        let (index, found) = position(of: peer)
        if found {
            if stamps[index] & Self.seederBit != 0 { seeders -= 1 }
            stamps[index] = stamp
        } else {
            guard peers.count < limit else { return false }
            if peers.count == peers.capacity {
                // Grown by a quarter, not doubled: a tracker holds millions of peers in small arrays, and doubling
                // leaves a third of their memory unused on average.
                let capacity = peers.count + peers.count / 4 + 4
                peers.reserveCapacity(capacity)
                stamps.reserveCapacity(capacity)
            }
            peers.insert(peer, at: index)
            stamps.insert(stamp, at: index)
        }
        if seeder { seeders += 1 }
        return true
    }

    mutating func remove(_ peer: Peer) {
        let (index, found) = position(of: peer)
        guard found else { return }
        if stamps[index] & Self.seederBit != 0 { seeders -= 1 }
        peers.remove(at: index)
        stamps.remove(at: index)
    }

    /// Drops peers last heard from more than `maxAge` minutes before `minute`; returns how many went.
    mutating func expire(minute: UInt16, maxAge: UInt16) -> Int {
        var kept = 0
        var seederCount = 0
        for index in peers.indices where (minute &- stamps[index]) & ~Self.seederBit <= maxAge {
            peers[kept] = peers[index]
            stamps[kept] = stamps[index]
            if stamps[kept] & Self.seederBit != 0 { seederCount += 1 }
            kept += 1
        }
        let removed = peers.count - kept
        if removed > 0 {
            peers.removeLast(removed)
            stamps.removeLast(removed)
            seeders = seederCount
            if peers.capacity > 4 * max(peers.count, 16) {
                // A new buffer of the right size (`Array(peers)` would share the old one).
                var smaller: [Peer] = []
                smaller.reserveCapacity(peers.count)
                smaller.append(contentsOf: peers)
                peers = smaller
                var smallerStamps: [UInt16] = []
                smallerStamps.reserveCapacity(stamps.count)
                smallerStamps.append(contentsOf: stamps)
                stamps = smallerStamps
            }
        }
        return removed
    }

    /// Writes up to `count` peers other than `requester` in compact form, from a random place onwards; a
    /// seeder is sent no other seeders.
    func write(_ count: Int, excluding requester: Peer?, seedersWanted: Bool, random: inout SplitMix64,
               into buffer: inout ByteBuffer) -> Int {
        guard count > 0, !peers.isEmpty else { return 0 }
        let start = Int(random.next() % UInt64(peers.count))
        let width = Peer.compactWidth
        // One reservation and raw stores: ByteBuffer's per-integer writes cost more than the peers themselves.
        return peers.withUnsafeBufferPointer { peers in
            stamps.withUnsafeBufferPointer { stamps in
                var written = 0
                buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count * width) { memory in
                    var index = start
                    repeat {
                        if peers[index] != requester, seedersWanted || stamps[index] & Self.seederBit == 0 {
                            peers[index].storeCompact(to: memory, at: written * width)
                            written += 1
                        }
                        index = index + 1 == peers.count ? 0 : index + 1
                    } while written < count && index != start
                    return written * width
                }
                return written
            }
        }
    }
}

/// One torrent's swarm.
struct Swarm {
    var v4 = PeerTable<V4Peer>()
    var v6 = PeerTable<V6Peer>()
    /// Completed downloads seen (`completed` events).
    var completed = 0

    var count: Int { v4.count + v6.count }
    var seeders: Int { v4.seeders + v6.seeders }
    var leechers: Int { count - seeders }
    var counts: ScrapeCounts { ScrapeCounts(seeders: seeders, leechers: leechers, completed: completed) }
}

/// A peer as the tracker keys it: the address it announced from and the port it announced.
enum TrackedPeer: Hashable {
    case v4(V4Peer)
    case v6(V6Peer)

    init(_ address: IPAddress, port: UInt16) {
        switch address.unmapped {
        case .v4(let ip): self = .v4(V4Peer(ip: ip, port: port))
        case .v6(let ip): self = .v6(V6Peer(ip: ip, port: port))
        }
    }
}

/// Every swarm the tracker knows, within its limits.
struct SwarmRegistry {
    private(set) var swarms: [SHA1Hash: Swarm] = [:]
    let maxSwarms: Int
    let maxPeersPerSwarm: Int
    /// Peers in all swarms, and the seeders among them (kept as they change: the statistics page must not walk
    /// every swarm under the lock).
    private(set) var peerCount = 0
    private(set) var seederCount = 0
    /// Where replies start in a swarm's peers.
    private var random = SplitMix64(seed: UInt64.random(in: .min ... .max))

    init(maxSwarms: Int, maxPeersPerSwarm: Int) {
        self.maxSwarms = maxSwarms
        self.maxPeersPerSwarm = maxPeersPerSwarm
    }

    /// Records an announce and writes up to `numWant` compact peers of the requester's family into `buffer`.
    /// Returns the swarm's counts after the announce and how many peers were written; nil when the announce would
    /// start a swarm beyond ``maxSwarms``. A peer that gave no port (`record` false) is answered, not recorded.
    mutating func announce(_ infoHash: SHA1Hash, from peer: TrackedPeer, left: Int64, event: AnnounceEvent, now: UInt32,
                           numWant: Int, record: Bool = true, into buffer: inout ByteBuffer) -> (seeders: Int, leechers: Int, written: Int)? {
        let seeder = left == 0
        let minute = Self.minute(now)
        if swarms[infoHash] == nil {
            if event == .stopped || !record { return (0, 0, 0) }
            if swarms.count >= maxSwarms { return nil }
        }
        let limit = maxPeersPerSwarm
        let leaving = event == .stopped
        var written = 0
        var result = (seeders: 0, leechers: 0, written: 0)
        var change = (peers: 0, seeders: 0)
        // Mutated in place: a copy of the swarm would copy its arrays.
        modify(&swarms[infoHash, default: Swarm()]) { swarm in
            let before = (swarm.count, swarm.seeders)
            if event == .completed { swarm.completed += 1 }
            switch peer {
            case .v4(let key):
                if record {
                    if leaving { swarm.v4.remove(key) } else { _ = swarm.v4.update(key, seeder: seeder, minute: minute, limit: limit - swarm.v6.count) }
                }
                if !leaving { written = swarm.v4.write(numWant, excluding: key, seedersWanted: !seeder, random: &random, into: &buffer) }
            case .v6(let key):
                if record {
                    if leaving { swarm.v6.remove(key) } else { _ = swarm.v6.update(key, seeder: seeder, minute: minute, limit: limit - swarm.v4.count) }
                }
                if !leaving { written = swarm.v6.write(numWant, excluding: key, seedersWanted: !seeder, random: &random, into: &buffer) }
            }
            result = (swarm.seeders, swarm.leechers, written)
            change = (swarm.count - before.0, swarm.seeders - before.1)
        }
        peerCount += change.peers
        seederCount += change.seeders
        if swarms[infoHash]?.count == 0 { swarms[infoHash] = nil }
        return result
    }

    /// A swarm's counts; zeros for one the tracker does not know.
    func counts(_ infoHash: SHA1Hash) -> ScrapeCounts {
        swarms[infoHash]?.counts ?? ScrapeCounts(seeders: 0, leechers: 0, completed: 0)
    }

    /// The stamp minute of `now`, seconds since the tracker started.
    static func minute(_ now: UInt32) -> UInt16 { UInt16(truncatingIfNeeded: now / 60) & 0x7FFF }

    /// Forgets peers not heard from for more than `timeout` seconds (rounded up to whole minutes) at `now`, and
    /// swarms left empty.
    mutating func expire(now: UInt32, timeout: UInt32) {
        let minute = Self.minute(now)
        let maxAge = UInt16(clamping: (timeout + 59) / 60)
        for key in Array(swarms.keys) {
            let (removed, seedersBefore, seedersAfter) = modify(&swarms[key, default: Swarm()]) { swarm in
                let seeders = swarm.seeders
                let removed = swarm.v4.expire(minute: minute, maxAge: maxAge) + swarm.v6.expire(minute: minute, maxAge: maxAge)
                return (removed, seeders, swarm.seeders)
            }
            peerCount -= removed
            seederCount -= seedersBefore - seedersAfter
            if swarms[key]?.count == 0 { swarms[key] = nil }
        }
    }

    /// Seeders and leechers in all swarms.
    var totals: (seeders: Int, leechers: Int) { (seederCount, peerCount - seederCount) }
}

/// Runs `body` on a value in place and returns its result (keeps dictionary values from being copied).
private func modify<Value, Result>(_ value: inout Value, _ body: (inout Value) -> Result) -> Result { body(&value) }
