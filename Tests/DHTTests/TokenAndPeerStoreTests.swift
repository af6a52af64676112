import Metainfo
import Testing
@testable import DHT

private let start = ContinuousClock.now
private let minute = Duration.seconds(60)

@Suite struct TokenIssuerTests {
    @Test("Tokens of the current and previous secret are accepted; older ones and other addresses are not")
    func rotation() {
        var issuer = TokenIssuer(now: start, source: SplitMix64(seed: 1))
        let ip = IPAddress.v4(0xcb00_7101)
        let other = IPAddress.v4(0xcb00_7102)
        let first = issuer.token(for: ip, now: start)
        #expect(first.count == 8)
        #expect(issuer.token(for: ip, now: start + minute) == first)
        #expect(issuer.isValid(first, for: ip, now: start + minute * 4))
        #expect(!issuer.isValid(first, for: other, now: start))
        #expect(!issuer.isValid(Array(first.dropLast()), for: ip, now: start))
        // Rotated at 6 minutes: the first token is now the previous secret's.
        let second = issuer.token(for: ip, now: start + minute * 6)
        #expect(second != first)
        #expect(issuer.isValid(first, for: ip, now: start + minute * 7))
        // Rotated again at 11 minutes: the first token has expired, the second is still good.
        #expect(!issuer.isValid(first, for: ip, now: start + minute * 11))
        #expect(issuer.isValid(second, for: ip, now: start + minute * 11))
    }

    @Test("After a long silence both secrets are new")
    func longSilence() {
        var issuer = TokenIssuer(now: start)
        let ip = IPAddress.v6(0x2001_0db8 << 96 | 1)
        let token = issuer.token(for: ip, now: start)
        #expect(!issuer.isValid(token, for: ip, now: start + minute * 10))
    }
}

@Suite struct PeerStoreTests {
    private let peer = { (n: Int) in PeerAddress(ip: .v4(0x0a00_0000 + UInt32(n)), port: 6881) }
    private let hash = { (n: UInt8) in SHA1Hash(bytes: [UInt8](repeating: n, count: 20))! }

    @Test("Peers per info-hash are capped; the oldest announce gives way")
    func peerCap() {
        var store = PeerStore(limits: .init(maxInfoHashes: 10, maxPeersPerInfoHash: 4))
        for n in 0..<6 { store.announce(peer(n), for: hash(1), now: start + .seconds(n)) }
        #expect(store.peerCount(for: hash(1)) == 4)
        var generator = SplitMix64(seed: 1)
        let kept = store.peers(for: hash(1), family: .v4, max: 10, now: start + minute, using: &generator)
        #expect(Set(kept) == Set((2..<6).map(peer)))
        // A re-announce refreshes rather than adds.
        store.announce(peer(2), for: hash(1), now: start + minute)
        store.announce(peer(9), for: hash(1), now: start + minute)
        let refreshed = store.peers(for: hash(1), family: .v4, max: 10, now: start + minute, using: &generator)
        #expect(Set(refreshed) == Set([2, 4, 5, 9].map(peer)))
    }

    @Test("Info-hashes are capped; the one with fewest peers gives way")
    func infoHashCap() {
        var store = PeerStore(limits: .init(maxInfoHashes: 3, maxPeersPerInfoHash: 10))
        for n in 1...3 {
            for p in 0..<n { store.announce(peer(p), for: hash(UInt8(n)), now: start) }
        }
        store.announce(peer(0), for: hash(4), now: start)
        #expect(store.infoHashCount == 3)
        #expect(store.peerCount(for: hash(1)) == 0)
        #expect(store.peerCount(for: hash(4)) == 1)
        // A flood of new info-hashes never grows the store.
        for n in 5...200 { store.announce(peer(0), for: hash(UInt8(n)), now: start) }
        #expect(store.infoHashCount == 3)
    }

    @Test("Peers expire 30 minutes after their last announce")
    func expiry() {
        var store = PeerStore()
        var generator = SplitMix64(seed: 2)
        store.announce(peer(1), for: hash(1), now: start)
        store.announce(peer(2), for: hash(1), now: start + minute * 10)
        let before = store.peers(for: hash(1), family: .v4, max: 10, now: start + minute * 29, using: &generator)
        let after = store.peers(for: hash(1), family: .v4, max: 10, now: start + minute * 31, using: &generator)
        #expect(before.count == 2)
        #expect(after == [peer(2)])
        store.expire(now: start + minute * 31)
        #expect(store.peerCount(for: hash(1)) == 1)
        store.expire(now: start + minute * 41)
        #expect(store.infoHashCount == 0)
    }

    @Test("Replies are random subsets of the asked family, without repeats")
    func sampling() {
        var store = PeerStore()
        var generator = SplitMix64(seed: 3)
        for n in 0..<50 { store.announce(peer(n), for: hash(1), now: start) }
        store.announce(PeerAddress(ip: .v6(1), port: 1), for: hash(1), now: start)
        let first = store.peers(for: hash(1), family: .v4, max: 10, now: start, using: &generator)
        let second = store.peers(for: hash(1), family: .v4, max: 10, now: start, using: &generator)
        #expect(first.count == 10 && Set(first).count == 10 && first != second)
        let v6 = store.peers(for: hash(1), family: .v6, max: 10, now: start, using: &generator)
        let none = store.peers(for: hash(2), family: .v4, max: 10, now: start, using: &generator)
        #expect(v6 == [PeerAddress(ip: .v6(1), port: 1)])
        #expect(none.isEmpty)
    }
}
