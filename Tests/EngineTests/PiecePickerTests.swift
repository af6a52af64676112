@testable import Engine
import Metainfo
import Testing

/// Picker fixtures in a compact notation: one character per piece.
/// availability "3121" gives pieces 0…3 that many peers each; have "0100" marks verified pieces;
/// priorities "4074" sets priorities (0 skips).
private func picker(blocks: Int = 1, availability: String, have: String? = nil, priorities: String? = nil,
                    seed: UInt64 = 1) -> PiecePicker<String> {
    let digits = availability.compactMap { $0.wholeNumberValue }
    var picker = PiecePicker<String>(blockCounts: [Int](repeating: blocks, count: digits.count), seed: seed)
    for (i, count) in digits.enumerated() {
        for _ in 0..<count { picker.peerHas(PieceIndex(i)) }
    }
    for (i, flag) in (have ?? "").enumerated() where flag == "1" { picker.markHave(PieceIndex(i)) }
    for (i, value) in (priorities ?? "").compactMap({ $0.wholeNumberValue }).enumerated() {
        picker.setPriority(PiecePriority(UInt8(value)), of: PieceIndex(i))
    }
    return picker
}

private func pieces(_ picked: [(piece: PieceIndex, block: Int)]) -> [Int] { picked.map(\.piece.value) }

private func bitfield(_ text: String) -> Bitfield {
    var field = Bitfield(count: text.count)
    for (i, flag) in text.enumerated() where flag == "1" { field[PieceIndex(i)] = true }
    return field
}

@Suite struct PiecePickerTests {
    @Test func rarestFirst() {
        var p = picker(availability: "3121")
        let order = pieces(p.pick(count: 4, for: "A", peerHas: nil))
        #expect(Set(order.prefix(2)) == [1, 3])
        #expect(Array(order.suffix(2)) == [2, 0])
    }

    @Test func tiesAreBrokenAtRandomButReproducibly() {
        var orders = Set<[Int]>()
        for seed in UInt64(1)...20 {
            var p = picker(availability: "11111", seed: seed)
            orders.insert(pieces(p.pick(count: 5, for: "A", peerHas: nil)))
        }
        #expect(orders.count > 1)
        var first = picker(availability: "11111", seed: 7)
        var second = picker(availability: "11111", seed: 7)
        #expect(pieces(first.pick(count: 5, for: "A", peerHas: nil)) == pieces(second.pick(count: 5, for: "A", peerHas: nil)))
    }

    @Test func priorityBeatsRarityAndSkipIsNeverPicked() {
        var p = picker(availability: "9119", priorities: "7404")
        #expect(pieces(p.pick(count: 4, for: "A", peerHas: nil)) == [0, 1, 3])
    }

    @Test func verifiedPiecesAndPiecesThePeerLacksAreNotPicked() {
        var p = picker(availability: "1111", have: "1000")
        #expect(pieces(p.pick(count: 4, for: "A", peerHas: bitfield("1101"))) .sorted() == [1, 3])
    }

    @Test func sequentialModeGoesInIndexOrder() {
        var p = picker(availability: "3121")
        p.sequential = true
        #expect(pieces(p.pick(count: 4, for: "A", peerHas: nil)) == [0, 1, 2, 3])
    }

    @Test func piecesUnderWayAreFinishedFirst() {
        var p = picker(blocks: 4, availability: "1911")
        // A takes two blocks of the rarest pieces, then leaves with one of them unanswered.
        let first = p.pick(count: 2, for: "A", peerHas: bitfield("0100"))
        #expect(first.map(\.piece.value) == [1, 1])
        p.received(piece: 1, block: 0, from: "A")
        p.requestEnded(piece: 1, block: 1, peer: "A")
        // B could take any piece, but piece 1 is under way: its three open blocks come first.
        let next = p.pick(count: 4, for: "B", peerHas: nil)
        #expect(next.prefix(3).map(\.piece.value) == [1, 1, 1])
        #expect(next.prefix(3).map(\.block) == [1, 2, 3])
    }

    @Test func endgameDuplicatesRequestsAndNamesPeersToCancel() {
        var p = picker(blocks: 2, availability: "11")
        #expect(p.pick(count: 10, for: "A", peerHas: nil).count == 4)
        #expect(p.isEndgame)
        let duplicates = p.pick(count: 10, for: "B", peerHas: nil)
        #expect(duplicates.count == 4)
        #expect(p.pick(count: 10, for: "B", peerHas: nil).isEmpty, "a peer is never asked twice for one block")
        let outcome = p.received(piece: 0, block: 0, from: "B")
        #expect(outcome.cancel == ["A"])
        #expect(outcome.pieceComplete == false)
        #expect(p.received(piece: 0, block: 1, from: "A").pieceComplete)
    }

    @Test func aFailedHashWantsThePieceAgain() {
        var p = picker(blocks: 2, availability: "1")
        _ = p.pick(count: 2, for: "A", peerHas: nil)
        p.received(piece: 0, block: 0, from: "A")
        #expect(p.received(piece: 0, block: 1, from: "A").pieceComplete)
        p.hashFailed(0)
        #expect(p.pick(count: 2, for: "B", peerHas: nil).map(\.block) == [0, 1])
        p.markHave(0)
        #expect(p.isFinished)
        #expect(p.pick(count: 2, for: "B", peerHas: nil).isEmpty)
    }

    @Test func availabilityFollowsPeersAndSeeds() {
        var p = picker(availability: "000")
        p.peerHas(bitfield("110"))
        p.seedJoined()
        #expect((0..<3).map { p.availability(of: PieceIndex($0)) } == [2, 2, 1])
        p.peerLost(bitfield("110"))
        p.seedLeft()
        #expect((0..<3).map { p.availability(of: PieceIndex($0)) } == [0, 0, 0])
    }

    @Test func finishedIgnoresSkippedPieces() {
        var p = picker(availability: "11", priorities: "40")
        #expect(!p.isFinished)
        p.markHave(0)
        #expect(p.isFinished)
    }
}
