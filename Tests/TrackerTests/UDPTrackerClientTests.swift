import Metainfo
import NIOCore
import NIOPosix
import NIOSupport
import Synchronization
import Testing
@testable import Tracker

/// A scripted UDP tracker on 127.0.0.1: `respond` sees each request and returns the replies to send.
private final class ScriptedTracker: Sendable {
    final class Log: Sendable {
        let requests = Mutex<[UDPTrackerCodec.Request]>([])
    }

    let channel: any Channel
    private let log = Log()
    var requests: [UDPTrackerCodec.Request] { log.requests.withLock { $0 } }

    init(respond: @escaping @Sendable (UDPTrackerCodec.Request, Int) -> [ByteBuffer]) async throws {
        let log = self.log
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler { envelope in
                        guard let request = UDPTrackerCodec.parseRequest(envelope.data) else { return [] }
                        let count = log.requests.withLock { $0.append(request); return $0.count }
                        return respond(request, count)
                    })
                }
            }
            .bind(host: "127.0.0.1", port: 0).outcome()
    }

    var url: String { "udp://127.0.0.1:\(channel.localAddress?.port ?? 0)/announce" }

    func close() { channel.close(promise: nil) }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let respond: (AddressedEnvelope<ByteBuffer>) -> [ByteBuffer]
        init(_ respond: @escaping (AddressedEnvelope<ByteBuffer>) -> [ByteBuffer]) { self.respond = respond }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            for reply in respond(envelope) {
                context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: reply)), promise: nil)
            }
        }
    }
}

private func connected(_ transaction: UInt32, id: UInt64 = 0xC0FFEE) -> ByteBuffer {
    var buffer = ByteBuffer()
    UDPTrackerCodec.writeConnectReply(transaction: transaction, connectionID: id, into: &buffer)
    return buffer
}

private func announced(_ transaction: UInt32) -> ByteBuffer {
    var buffer = ByteBuffer()
    UDPTrackerCodec.writeAnnounceReplyHead(transaction: transaction, interval: 600, leechers: 1, seeders: 1, into: &buffer)
    buffer.writeBytes([127, 0, 0, 1, 0x1A, 0xE1])
    return buffer
}

@Suite(.timeLimit(.minutes(1))) struct UDPTrackerClientTests {
    let request = AnnounceRequest(infoHash: SHA1Hash(bytes: [UInt8](repeating: 1, count: 20))!, peerID: [UInt8](repeating: 2, count: 20),
                                  port: 6881, left: 10)

    func client(attempts: Int = 3) -> UDPTrackerClient {
        var configuration = UDPTrackerClient.Configuration()
        configuration.retransmitBase = .milliseconds(100)
        configuration.attempts = attempts
        return UDPTrackerClient(configuration: configuration)
    }

    @Test("One connect serves announces while its id lives; the id and our values reach the tracker")
    func reusesConnectionID() async throws {
        let tracker = try await ScriptedTracker { request, _ in
            switch request {
            case .connect(let transaction): [connected(transaction)]
            case .announce(let id, let transaction, _): id == 0xC0FFEE ? [announced(transaction)] : []
            case .scrape, .malformed: []
            }
        }
        defer { tracker.close() }
        let client = client()
        defer { client.close() }
        let first = try await client.announce(tracker.url, request)
        _ = try await client.announce(tracker.url, request)
        #expect(first.peers.map(\.description) == ["127.0.0.1:6881"])
        #expect(first.interval == 600)
        let seen = tracker.requests
        #expect(seen.count == 3)
        #expect(seen.filter { if case .connect = $0 { true } else { false } }.count == 1)
        guard case .announce(_, _, let announce) = seen.last else { throw TrackerError.timedOut }
        #expect(announce.port == 6881 && announce.left == 10 && announce.infoHash == request.infoHash)
    }

    @Test("An unanswered request is sent again, and an answer to the resend counts")
    func retransmits() async throws {
        let tracker = try await ScriptedTracker { request, count in
            switch request {
            case .connect(let transaction): count == 1 ? [] : [connected(transaction)]  // the first connect is lost
            case .announce(_, let transaction, _): [announced(transaction)]
            case .scrape, .malformed: []
            }
        }
        defer { tracker.close() }
        let client = client()
        defer { client.close() }
        let started = ContinuousClock.now
        _ = try await client.announce(tracker.url, request)
        #expect(ContinuousClock.now - started >= .milliseconds(100))
        #expect(tracker.requests.count == 3)
    }

    @Test("Silence ends in timedOut after the attempts, each wait doubling (100 + 200 + 400 ms)")
    func timesOut() async throws {
        let tracker = try await ScriptedTracker { _, _ in [] }
        defer { tracker.close() }
        let client = client()
        defer { client.close() }
        let started = ContinuousClock.now
        await #expect(throws: TrackerError.timedOut) { try await client.announce(tracker.url, request) }
        #expect(ContinuousClock.now - started >= .milliseconds(700))
        #expect(tracker.requests.count == 3)
    }

    @Test("Replies for no request in flight are dropped and counted; the right one still counts")
    func dropsStrangers() async throws {
        let tracker = try await ScriptedTracker { request, _ in
            switch request {
            case .connect(let transaction): [connected(transaction &+ 1), ByteBuffer(bytes: [1, 2]), connected(transaction)]
            case .announce(_, let transaction, _): [announced(transaction)]
            case .scrape, .malformed: []
            }
        }
        defer { tracker.close() }
        let client = client()
        defer { client.close() }
        _ = try await client.announce(tracker.url, request)
        #expect(client.droppedReplies == 2)
    }

    @Test("An error packet is the tracker's failure, and the next request connects afresh")
    func errorPacket() async throws {
        let tracker = try await ScriptedTracker { request, _ in
            switch request {
            case .connect(let transaction): return [connected(transaction)]
            case .announce(_, let transaction, _), .scrape(_, let transaction, _), .malformed(let transaction, _):
                var buffer = ByteBuffer()
                UDPTrackerCodec.writeError(transaction: transaction, message: "unregistered torrent", maxLength: 100, into: &buffer)
                return [buffer]
            }
        }
        defer { tracker.close() }
        let client = client()
        defer { client.close() }
        await #expect(throws: TrackerError.failure("unregistered torrent")) { try await client.announce(tracker.url, request) }
        await #expect(throws: TrackerError.failure("unregistered torrent")) { try await client.scrape(tracker.url, infoHashes: [request.infoHash]) }
        #expect(tracker.requests.filter { if case .connect = $0 { true } else { false } }.count == 2)
    }

    @Test("A cancelled announce ends at once, as cancelled, without waiting out its resends")
    func cancellation() async throws {
        let tracker = try await ScriptedTracker { _, _ in [] }
        defer { tracker.close() }
        var configuration = UDPTrackerClient.Configuration()
        configuration.retransmitBase = .seconds(15)
        let client = UDPTrackerClient(configuration: configuration)
        defer { client.close() }
        let task = Task { [request] in try await client.announce(tracker.url, request) }
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        task.cancel()
        await #expect(throws: TrackerError.cancelled) { try await task.value }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("A single attempt still covers both the connect and the request (as a stopped announce uses)")
    func singleAttempt() async throws {
        let tracker = try await ScriptedTracker { request, _ in
            switch request {
            case .connect(let transaction): [connected(transaction)]
            case .announce(_, let transaction, _): [announced(transaction)]
            case .scrape, .malformed: []
            }
        }
        defer { tracker.close() }
        let client = client(attempts: 1)
        defer { client.close() }
        _ = try await client.announce(tracker.url, request)
        #expect(tracker.requests.count == 2)
    }
}
