import AsyncHTTPClient
import Bencode
import Metainfo
import NIOCore
import NIOPosix
import NIOSupport
import Testing
import Tracker
@testable import TrackerServer

/// The tracker served over loopback, asked by Shoal's own clients (the interop tests ask it with libtorrent and
/// Transmission).
@Suite(.timeLimit(.minutes(1))) struct TrackerServerTests {
    let hash = SHA1Hash(bytes: [UInt8](repeating: 5, count: 20))!

    func request(port: UInt16, left: Int64, event: AnnounceEvent = .started) -> AnnounceRequest {
        AnnounceRequest(infoHash: hash, peerID: [UInt8](repeating: UInt8(port & 0xff), count: 20), port: port, left: left, event: event,
                        numWant: 50)
    }

    func udpClient() -> UDPTrackerClient {
        var configuration = UDPTrackerClient.Configuration()
        configuration.retransmitBase = .milliseconds(200)
        configuration.attempts = 2
        return UDPTrackerClient(configuration: configuration)
    }

    @Test("UDP and HTTP share swarms: each client sees the others, and scrapes count them")
    func bothProtocols() async throws {
        let server = TrackerServer()
        defer { server.close() }
        let udpPort = try await server.listenUDP(host: "127.0.0.1", port: 0)
        let httpPort = try await server.listenHTTP(host: "127.0.0.1", port: 0)
        let udp = udpClient()
        defer { udp.close() }
        let http = HTTPTrackerClient(timeout: .seconds(10))
        let udpURL = "udp://127.0.0.1:\(udpPort)/announce"
        let httpURL = "http://127.0.0.1:\(httpPort)/announce"

        let seeder = try await udp.announce(udpURL, request(port: 1000, left: 0))
        #expect(seeder.peers.isEmpty && seeder.seeders == 1 && seeder.interval == 1800)
        let leecher = try await http.announce(httpURL, request(port: 2000, left: 10))
        #expect(leecher.peers.map(\.description) == ["127.0.0.1:1000"])
        #expect(leecher.seeders == 1 && leecher.leechers == 1 && leecher.minInterval == 60)
        let again = try await udp.announce(udpURL, request(port: 1000, left: 0, event: .none))
        #expect(again.peers.map(\.description) == ["127.0.0.1:2000"])

        #expect(try await http.scrape(httpURL, infoHash: hash) == ScrapeCounts(seeders: 1, leechers: 1, completed: 0))
        _ = try await http.announce(httpURL, request(port: 2000, left: 0, event: .completed))
        #expect(try await udp.scrape(udpURL, infoHashes: [hash]) == [ScrapeCounts(seeders: 2, leechers: 0, completed: 1)])
        _ = try await udp.announce(udpURL, request(port: 1000, left: 0, event: .stopped))
        #expect(try await http.scrape(httpURL, infoHash: hash) == ScrapeCounts(seeders: 1, leechers: 0, completed: 1))

        let stats = server.statistics
        #expect(stats.swarms == 1 && stats.seeders == 1)
        #expect(stats.udpAnnounces == 3 && stats.httpAnnounces == 2 && stats.udpScrapes == 1 && stats.httpScrapes == 2)
    }

    @Test("An allow list refuses other torrents over both protocols")
    func allowList() async throws {
        var configuration = TrackerServer.Configuration()
        configuration.allowList = [SHA1Hash(bytes: [UInt8](repeating: 9, count: 20))!]
        let server = TrackerServer(configuration: configuration)
        defer { server.close() }
        let udpPort = try await server.listenUDP(host: "127.0.0.1", port: 0)
        let httpPort = try await server.listenHTTP(host: "127.0.0.1", port: 0)
        let udp = udpClient()
        defer { udp.close() }
        await #expect(throws: TrackerError.failure("unregistered torrent")) {
            try await udp.announce("udp://127.0.0.1:\(udpPort)", request(port: 1, left: 0))
        }
        await #expect(throws: TrackerError.failure("unregistered torrent")) {
            try await HTTPTrackerClient().announce("http://127.0.0.1:\(httpPort)/announce", request(port: 1, left: 0))
        }
        #expect(server.statistics.swarms == 0 && server.statistics.refused == 2)
    }

    @Test("Hostile datagrams: junk is dropped unanswered, a forged connection id gets an error no longer than its request")
    func hostileDatagrams() async throws {
        let server = TrackerServer()
        defer { server.close() }
        let port = try await server.listenUDP(host: "127.0.0.1", port: 0)
        let probe = try await DatagramProbe()
        defer { probe.close() }
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        for junk: [UInt8] in [[], [1], [UInt8](repeating: 0xff, count: 2000), [0, 0, 4, 0x17, 0x27, 0x10, 0x19, 0x80, 0, 0, 0, 3, 0, 0, 0, 0]] {
            probe.send(ByteBuffer(bytes: junk), to: target)
        }
        // A scrape with an id never handed out: 16 bytes in, at most 16 back.
        var forged = ByteBuffer()
        forged.writeInteger(UInt64(12345))
        forged.writeInteger(UInt32(2))
        forged.writeInteger(UInt32(77))
        probe.send(forged, to: target)
        let reply = try #require(await probe.receive())
        #expect(reply.readableBytes <= 16)
        #expect(reply.getInteger(at: 0, as: UInt32.self) == 3)
        #expect(reply.getInteger(at: 4, as: UInt32.self) == 77)
        // A truncated announce (40 of 98 bytes) is told so, in no more than 40 bytes.
        var short = ByteBuffer()
        short.writeInteger(UInt64(1))
        short.writeInteger(UInt32(1))
        short.writeInteger(UInt32(78))
        short.writeBytes([UInt8](repeating: 0, count: 24))
        probe.send(short, to: target)
        let error = try #require(await probe.receive())
        #expect(error.readableBytes <= 40 && error.getInteger(at: 4, as: UInt32.self) == 78)
        #expect(String(decoding: error.readableBytesView.dropFirst(8), as: UTF8.self) == "malformed announce")
        #expect(server.statistics.dropped == 4 && server.statistics.refused == 2)
        // Still serving.
        let client = udpClient()
        defer { client.close() }
        _ = try await client.announce("udp://127.0.0.1:\(port)", request(port: 5, left: 0))
    }

    @Test("Malformed HTTP announces get a failure reason; the stats page answers in HTML and JSON")
    func httpFailures() async throws {
        let server = TrackerServer()
        defer { server.close() }
        let port = try await server.listenHTTP(host: "127.0.0.1", port: 0)
        let base = "http://127.0.0.1:\(port)"
        for target in ["/announce", "/announce?info_hash=abc&peer_id=x&port=1&left=0",
                       "/announce?info_hash=\(String(repeating: "%41", count: 20))&peer_id=\(String(repeating: "b", count: 20))&port=70000&left=0",
                       "/announce?info_hash=%zz", "/scrape", "/announce?" + String(repeating: "a", count: 5000)] {
            let body = try await get(base + target)
            let reply = try BencodeDecoder().decode(body).dictionary
            #expect(reply?["failure reason"]?.utf8 != nil, "\(target.prefix(60))")
        }
        let json = String(decoding: try await get(base + "/stats.json"), as: UTF8.self)
        #expect(json.contains("\"refused\":6"))
        let html = String(decoding: try await get(base + "/stats"), as: UTF8.self)
        #expect(html.contains("<table>") && html.contains("swarms"))
    }

    @Test("An IPv6 announcer is told about IPv6 peers")
    func ipv6() async throws {
        let server = TrackerServer()
        defer { server.close() }
        let port = try await server.listenHTTP(host: "::1", port: 0)
        let udpPort = try await server.listenUDP(host: "::1", port: 0)
        let http = HTTPTrackerClient()
        _ = try await http.announce("http://[::1]:\(port)/announce", request(port: 100, left: 0))
        let udp = udpClient()
        defer { udp.close() }
        let reply = try await udp.announce("udp://[::1]:\(udpPort)", request(port: 200, left: 5))
        #expect(reply.peers.map(\.description) == ["[::1]:100"])
    }

    /// The body of a GET, whatever the status.
    private func get(_ url: String) async throws -> [UInt8] {
        let request = try HTTPClient.Request(url: url)
        let response = try await HTTPClient.shared.execute(request: request, deadline: .now() + .seconds(10)).outcome()
        return response.body.map { Array($0.readableBytesView) } ?? []
    }
}

/// A bare UDP socket on 127.0.0.1 that sends what a test writes and hands back what arrives.
final class DatagramProbe: Sendable {
    private let channel: any Channel
    private let inbox: AsyncStream<ByteBuffer>

    init() async throws {
        let (inbox, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        self.inbox = inbox
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(continuation))
                }
            }
            .bind(host: "127.0.0.1", port: 0).outcome()
    }

    func send(_ bytes: ByteBuffer, to address: SocketAddress) {
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: bytes), promise: nil)
    }

    /// The next datagram, or nil if none comes within two seconds.
    func receive() async -> ByteBuffer? {
        await withTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { [inbox] in
                for await datagram in inbox { return datagram }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    func close() { channel.close(promise: nil) }

    private final class Collector: ChannelInboundHandler {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let continuation: AsyncStream<ByteBuffer>.Continuation
        init(_ continuation: AsyncStream<ByteBuffer>.Continuation) { self.continuation = continuation }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { continuation.yield(unwrapInboundIn(data).data) }
    }
}
