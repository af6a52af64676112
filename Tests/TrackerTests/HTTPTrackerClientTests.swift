import Bencode
import Metainfo
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSupport
import Testing
@testable import Tracker

/// A scripted web server on 127.0.0.1: `respond` gets the request target and returns the status, extra headers
/// and body, or nil to never answer.
private final class ScriptedWebServer: Sendable {
    typealias Answer = (status: HTTPResponseStatus, headers: [(String, String)], body: [UInt8])
    let channel: any Channel

    init(respond: @escaping @Sendable (String, Int) -> Answer?) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(respond: respond))
                }
            }
            .bind(host: "127.0.0.1", port: 0).outcome()
    }

    var base: String { "http://127.0.0.1:\(channel.localAddress?.port ?? 0)" }

    func close() { channel.close(promise: nil) }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let respond: @Sendable (String, Int) -> Answer?
        var uri = ""
        init(respond: @escaping @Sendable (String, Int) -> Answer?) { self.respond = respond }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): uri = head.uri
            case .body: break
            case .end:
                guard let port = context.channel.localAddress?.port, let answer = respond(uri, port) else { return }
                var headers = HTTPHeaders(answer.headers)
                headers.add(name: "Content-Length", value: String(answer.body.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: answer.status, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: answer.body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct HTTPTrackerClientTests {
    let request = AnnounceRequest(infoHash: SHA1Hash(bytes: [UInt8](repeating: 1, count: 20))!, peerID: [UInt8](repeating: 2, count: 20),
                                  port: 6881, left: 10)
    static let reply = BencodeValue.dictionary(["interval": .integer(300), "peers": .string([127, 0, 0, 1, 0x1A, 0xE1])]).encoded()

    @Test("Redirects are followed to the tracker; a loop of them is a clear failure")
    func redirects() async throws {
        let server = try await ScriptedWebServer { uri, port in
            if uri.hasPrefix("/old") { return (.found, [("Location", "http://127.0.0.1:\(port)/new" + uri.dropFirst(4))], []) }
            if uri.hasPrefix("/loop") { return (.movedPermanently, [("Location", "http://127.0.0.1:\(port)/loop2")], []) }
            if uri.hasPrefix("/loop2") { return (.movedPermanently, [("Location", "http://127.0.0.1:\(port)/loop")], []) }
            if uri.hasPrefix("/new/announce?info_hash=") { return (.ok, [], Self.reply) }
            return (.notFound, [], [])
        }
        defer { server.close() }
        let client = HTTPTrackerClient(timeout: .seconds(10))
        let response = try await client.announce(server.base + "/old/announce", request)
        #expect(response.peers.map(\.description) == ["127.0.0.1:6881"])
        await #expect(throws: TrackerError.transport("too many redirects, or a redirect loop")) {
            try await client.announce(server.base + "/loop", request)
        }
    }

    @Test("Statuses, refusals, oversized bodies and silence each end in their own error")
    func failures() async throws {
        let server = try await ScriptedWebServer { uri, _ in
            if uri.hasPrefix("/broken") { return (.internalServerError, [], Array("oops".utf8)) }
            if uri.hasPrefix("/refused") {
                return (.badRequest, [], BencodeValue.dictionary(["failure reason": .text("passkey invalid")]).encoded())
            }
            if uri.hasPrefix("/huge") { return (.ok, [], [UInt8](repeating: 0x20, count: TrackerLimits.maxHTTPBody + 1)) }
            return nil  // /silent: never answers
        }
        defer { server.close() }
        let client = HTTPTrackerClient(timeout: .milliseconds(500))
        await #expect(throws: TrackerError.httpStatus(500)) { try await client.announce(server.base + "/broken", request) }
        await #expect(throws: TrackerError.failure("passkey invalid")) { try await client.announce(server.base + "/refused", request) }
        await #expect(throws: TrackerError.malformed("a reply larger than \(TrackerLimits.maxHTTPBody) bytes")) {
            try await client.announce(server.base + "/huge", request)
        }
        await #expect(throws: TrackerError.timedOut) { try await client.announce(server.base + "/silent", request) }
        await #expect(throws: TrackerError.self) { try await client.announce("http://127.0.0.1:1/announce", request) }
        await #expect(throws: TrackerError.unsupported("http://t.example/a offers no scrape (its path does not end in announce)")) {
            try await client.scrape("http://t.example/a", infoHash: request.infoHash)
        }
    }

    @Test("A cancelled announce ends at once, as cancelled")
    func cancellation() async throws {
        let server = try await ScriptedWebServer { _, _ in nil }
        defer { server.close() }
        let client = HTTPTrackerClient(timeout: .seconds(30))
        let task = Task { try await client.announce(server.base + "/announce", request) }
        try await Task.sleep(for: .milliseconds(200))
        let started = ContinuousClock.now
        task.cancel()
        await #expect(throws: TrackerError.cancelled) { try await task.value }
        #expect(ContinuousClock.now - started < .seconds(10))
    }
}
