import Metainfo
import NIOCore
@testable import PeerWire
import Testing

@Suite struct PeerConnectionStateTests {
    /// 10 pieces of 32 KiB, the last of 5,000 bytes.
    static func state(fast: Bool = true, maxRequests: Int = 500) -> PeerConnectionState {
        PeerConnectionState(pieceCount: 10, pieceLength: 32_768, totalSize: 9 * 32_768 + 5_000, fastExtension: fast,
                            limits: .init(maxIncomingRequests: maxRequests))
    }

    static func violation(_ state: inout PeerConnectionState, _ message: PeerMessage) -> Bool {
        do {
            _ = try state.received(message)
            return false
        } catch {
            return true
        }
    }

    @Test func bitfieldMustFitAndComeFirst() throws {
        var good = Self.state()
        let events = try good.received(.bitfield([0b1010_0000, 0b0100_0000]))
        #expect(events == [.peerHas([0, 2, 9])])
        #expect(good.peerPieces.setCount == 3)

        var short = Self.state()
        #expect(Self.violation(&short, .bitfield([0xff])))
        var spare = Self.state()
        #expect(Self.violation(&spare, .bitfield([0, 0b0010_0000])), "spare bits set")
        var late = Self.state()
        _ = try late.received(.unchoke)
        #expect(Self.violation(&late, .bitfield([0, 0])))
        // libtorrent sends its extension handshake before the bitfield: that is allowed.
        var afterExtension = Self.state()
        _ = try afterExtension.received(.extended(id: 0, payload: ByteBuffer(bytes: Array("de".utf8))))
        _ = try afterExtension.received(.keepAlive)
        #expect(try afterExtension.received(.haveAll) == [.peerHasAll])
    }

    @Test func haveAllNeedsTheFastExtension() throws {
        var fast = Self.state()
        #expect(try fast.received(.haveAll) == [.peerHasAll])
        #expect(fast.peerPieces.isFull)
        var plain = Self.state(fast: false)
        #expect(Self.violation(&plain, .haveAll))
    }

    @Test func indicesOutOfRangeCloseTheConnection() {
        for message: PeerMessage in [.have(10), .have(PieceIndex(-1)), .suggest(10), .allowedFast(99),
                                     .request(BlockRequest(piece: 9, offset: 0, length: 5_001)),
                                     .request(BlockRequest(piece: 0, offset: 32_768 - 100, length: 200)),
                                     .request(BlockRequest(piece: 0, offset: 0, length: 32_768)),
                                     .request(BlockRequest(piece: 0, offset: 0, length: 0))] {
            var state = Self.state()
            #expect(Self.violation(&state, message), "\(message)")
        }
    }

    @Test func requestsWhileChokedAreRejectedOrIgnored() throws {
        let block = BlockRequest(piece: 1, offset: 0, length: 16_384)
        var fast = Self.state()
        #expect(try fast.received(.request(block)) == [.reply(.reject(block))])
        var plain = Self.state(fast: false)
        #expect(try plain.received(.request(block)) == [])
        // An allowed-fast piece may be requested while choked.
        var allowed = Self.state()
        allowed.allowedFastForPeer = [1]
        #expect(try allowed.received(.request(block)) == [.requested(block)])
    }

    @Test("A request flood beyond the advertised queue closes the connection; memory stays bounded")
    func requestFlood() throws {
        var state = Self.state(maxRequests: 3)
        _ = state.setChoking(false)
        for offset in stride(from: 0, to: 3 * 16_384, by: 16_384) where offset < 32_768 {
            _ = try state.received(.request(BlockRequest(piece: 0, offset: offset, length: 16_384)))
        }
        _ = try state.received(.request(BlockRequest(piece: 1, offset: 0, length: 16_384)))
        #expect(state.incoming.count == 3)
        #expect(Self.violation(&state, .request(BlockRequest(piece: 2, offset: 0, length: 16_384))))
    }

    @Test func unrequestedBlocksCloseTheConnection() throws {
        var state = Self.state()
        _ = try state.received(.unchoke)
        let block = BlockRequest(piece: 3, offset: 16_384, length: 16_384)
        #expect(state.request(block) == .request(block))
        #expect(state.request(block) == nil, "no duplicate request")
        let data = ByteBuffer(bytes: [UInt8](repeating: 1, count: 16_384))
        #expect(try state.received(.piece(piece: 3, offset: 16_384, data: data)) == [.block(block, data)])
        #expect(Self.violation(&state, .piece(piece: 3, offset: 16_384, data: data)), "the same block twice")
        var other = Self.state()
        #expect(Self.violation(&other, .piece(piece: 0, offset: 0, data: ByteBuffer(bytes: [1]))))
    }

    @Test("Without BEP 6 a choke drops our requests; a block cancelled in flight is still welcome")
    func chokeAndCancelWithoutFastExtension() throws {
        var state = Self.state(fast: false)
        _ = try state.received(.unchoke)
        let a = BlockRequest(piece: 0, offset: 0, length: 16_384)
        let b = BlockRequest(piece: 0, offset: 16_384, length: 16_384)
        _ = state.request(a)
        _ = state.request(b)
        #expect(state.cancel(b) == .cancel(b))
        let data = ByteBuffer(bytes: [UInt8](repeating: 0, count: 16_384))
        #expect(try state.received(.piece(piece: 0, offset: 16_384, data: data)) == [.block(b, data)])
        #expect(try state.received(.choke) == [.choked(lost: [a])])
        #expect(state.outgoing.isEmpty)
        #expect(state.request(a) == nil, "no requests while choked")
    }

    @Test func withBEP6RejectsMustMatchAndChokingRejectsQueuedRequests() throws {
        var state = Self.state()
        _ = try state.received(.unchoke)
        let block = BlockRequest(piece: 2, offset: 0, length: 16_384)
        _ = state.request(block)
        #expect(try state.received(.choke) == [], "requests stay pending until rejected")
        #expect(try state.received(.reject(block)) == [.rejected(block)])
        #expect(Self.violation(&state, .reject(block)))

        _ = state.setChoking(false)
        let theirs = BlockRequest(piece: 4, offset: 0, length: 16_384)
        #expect(try state.received(.request(theirs)) == [.requested(theirs)])
        #expect(state.setChoking(true) == [.choke, .reject(theirs)])
        #expect(state.incoming.isEmpty)
    }

    @Test func interestAndCancelBookkeeping() throws {
        var state = Self.state()
        #expect(state.setInterested(true) == .interested)
        #expect(state.setInterested(true) == nil)
        #expect(try state.received(.interested) == [.peerInterested(true)])
        _ = state.setChoking(false)
        let theirs = BlockRequest(piece: 9, offset: 0, length: 5_000)
        _ = try state.received(.request(theirs))
        #expect(try state.received(.cancel(theirs)) == [.cancelled(theirs)])
        #expect(try state.received(.cancel(theirs)) == [])
        #expect(state.incoming.isEmpty)
    }
}
