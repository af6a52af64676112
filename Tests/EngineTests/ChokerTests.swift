@testable import Engine
import Testing

@Suite struct ChokerTests {
    typealias Peer = ChokeCandidate<String>

    static func peer(_ key: String, interested: Bool = true, down: Int = 0, up: Int = 0, snubbed: Bool = false,
                     connected: Int = -600) -> Peer {
        Peer(key: key, isInterested: interested, downloadRate: down, uploadRate: up, isSnubbed: snubbed,
             connectedAt: .seconds(connected))
    }

    @Test("While downloading, the peers that give most get the regular slots, plus one optimistic unchoke")
    func titForTat() {
        var choker = Choker<String>(uploadSlots: 4, seed: 1)
        let peers = [Self.peer("a", down: 100), Self.peer("b", down: 900), Self.peer("c", down: 500), Self.peer("d", down: 700),
                     Self.peer("e", down: 50), Self.peer("f", interested: false, down: 10_000), Self.peer("g", down: 800, snubbed: true)]
        let unchoked = choker.rechoke(peers, now: .zero, seeding: false)
        #expect(unchoked.count == 4)
        #expect(unchoked.isSuperset(of: ["b", "d", "c"]))
        #expect(["a", "e", "g"].contains(choker.optimistic ?? ""), "the optimistic slot goes to an interested peer left out")
        #expect(!unchoked.contains("f"), "an uninterested peer is never unchoked")
    }

    @Test func optimisticUnchokeLastsItsIntervalThenRotates() {
        var choker = Choker<String>(uploadSlots: 2, seed: 3)
        let peers = ["a", "b", "c", "d", "e", "f"].map { Self.peer($0) }
        _ = choker.rechoke(peers, now: .zero, seeding: false)
        let first = choker.optimistic
        for t in stride(from: 10, to: 30, by: 10) {
            _ = choker.rechoke(peers, now: .seconds(t), seeding: false)
            #expect(choker.optimistic == first, "kept within 30 s")
        }
        var seen: Set<String> = []
        for t in stride(from: 30, to: 600, by: 30) {
            _ = choker.rechoke(peers, now: .seconds(t), seeding: false)
            seen.insert(choker.optimistic ?? "")
        }
        #expect(seen.count > 2, "rotates among peers over time")
    }

    @Test("New connections are three times as likely to be the optimistic unchoke")
    func newPeersAreFavoured() {
        var newCount = 0
        let runs = 400
        for seed in 0..<UInt64(runs) {
            var choker = Choker<String>(uploadSlots: 1, seed: seed)
            let peers = [Self.peer("old1"), Self.peer("old2"), Self.peer("old3"), Self.peer("new", connected: -5)]
            _ = choker.rechoke(peers, now: .zero, seeding: false)
            if choker.optimistic == "new" { newCount += 1 }
        }
        // Expected share 3/6 = 50%, against 25% without the weighting.
        #expect(newCount > runs * 40 / 100 && newCount < runs * 60 / 100, "new peer chosen \(newCount) of \(runs) times")
    }

    @Test("While seeding, every interested peer gets turns, and the fastest does not keep its slot")
    func roundRobinWhileSeeding() {
        var choker = Choker<String>(uploadSlots: 3, seed: 5)
        var rounds: [String: Int] = [:]
        let total = 300
        for round in 0..<total {
            let peers = ["a", "b", "c", "d", "e", "f"].map { key in Self.peer(key, up: key == "a" ? 1000 : 10) }
            let unchoked = choker.rechoke(peers, now: .seconds(round * 10), seeding: true)
            #expect(unchoked.count == 3)
            for key in unchoked { rounds[key, default: 0] += 1 }
        }
        #expect(rounds.count == 6, "every peer was unchoked at some point: \(rounds)")
        // Slots are shared fairly: each peer within half and one and a half times the mean. Rate-based choking
        // alone would keep the fastest peer unchoked in every round, twice the mean.
        let mean = total * 3 / 6
        for (key, count) in rounds {
            #expect(count >= mean / 2 && count <= mean * 3 / 2, "\(key) held a slot in \(count) of \(total) rounds")
        }
    }

    @Test func noSlotsOrNoInterestMeansNobody() {
        var none = Choker<String>(uploadSlots: 0, seed: 1)
        #expect(none.rechoke([Self.peer("a")], now: .zero, seeding: false).isEmpty)
        var choker = Choker<String>(uploadSlots: 4, seed: 1)
        #expect(choker.rechoke([Self.peer("a", interested: false)], now: .zero, seeding: true).isEmpty)
        #expect(choker.rechoke([Self.peer("a"), Self.peer("b")], now: .zero, seeding: false) == ["a", "b"])
    }
}
