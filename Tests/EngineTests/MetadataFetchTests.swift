@testable import Engine
import Metainfo
import NIOCore
import NIOPosix
import NIOSupport
import PeerWire
import Storage
import Testing

/// Magnet links in one process over loopback: a session fetches the info dictionary (BEP 9) from a seeding session,
/// and bans a peer whose metadata does not hash to the info-hash.
@Suite(.timeLimit(.minutes(2))) struct MetadataFetchTests {
    /// A v1 torrent whose info dictionary spans two metadata pieces (1200 piece hashes); its data is never read.
    static func largeTorrent() throws -> Metainfo {
        let pieces = (0..<1200).flatMap { SHA1Hash.of([UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)]).bytes }
        let head = "d4:infod6:lengthi\(1200 * 16_384)e4:name5:large12:piece lengthi16384e6:pieces\(pieces.count):"
        return try Metainfo(bytes: Array(head.utf8) + pieces + Array("ee".utf8))
    }

    static func fetch(_ magnet: MagnetLink) throws -> (Session, MetadataFetch) {
        var settings = SessionSettings()
        settings.listenPort = 0
        let session = Session(settings: settings)
        var options = MetadataFetch.Options()
        options.stopWhenPeersRunOut = true
        return (session, try session.fetchMetadata(magnet, options: options))
    }

    @Test("A magnet link's metadata comes from a seeding session in pieces and equals the torrent's info dictionary")
    func fetchesFromSeeder() async throws {
        let metainfo = try Self.largeTorrent()
        #expect(metainfo.info.rawBytes.count > MetadataMessage.pieceSize)
        let seeder = try await TorrentTests.seeder(metainfo, contents: [], host: "127.0.0.1")
        defer { seeder.task.cancel() }
        var magnet = metainfo.magnetLink
        magnet.peers = ["127.0.0.1:\(seeder.port)"]
        magnet.trackers = []
        let (session, fetch) = try Self.fetch(magnet)
        let events = Task {
            var seen: [TorrentEvent] = []
            for await event in fetch.events { seen.append(event) }
            return seen
        }
        let fetched = try await withTimeout(seconds: 30) { try await fetch.run() }
        #expect(fetched.info.rawBytes == metainfo.info.rawBytes)
        #expect(fetched.info.infoHashes == metainfo.info.infoHashes)
        #expect(await events.value.contains { if case .metadataReceived(metainfo.info.rawBytes.count, _) = $0 { true } else { false } })
        #expect(fetch.reachedPeers.map(\.port) == [seeder.port])
        // Once done the fetch leaves the session, so the torrent itself can be added.
        #expect(throws: Never.self) { try session.add(fetched, storage: PieceStorage(layout: StorageLayout(fetched.info),
                                                                                      backend: MemoryStorage()),
                                                       verified: Bitfield(count: fetched.info.pieceCount)) }
    }

    @Test("A peer whose metadata does not hash to the info-hash is banned and the fetch goes on without it")
    func lyingPeerBanned() async throws {
        let metainfo = try Self.largeTorrent()
        let liar = try await LyingPeer.start(infoHash: try #require(metainfo.info.infoHashes.v1), size: metainfo.info.rawBytes.count)
        defer { liar.close() }
        var magnet = metainfo.magnetLink
        magnet.peers = ["127.0.0.1:\(liar.port)"]
        let (_, fetch) = try Self.fetch(magnet)
        let events = Task {
            var seen: [TorrentEvent] = []
            for await event in fetch.events { seen.append(event) }
            return seen
        }
        await #expect(throws: MetadataFetchError.peersRanOut) { try await withTimeout(seconds: 30) { try await fetch.run() } }
        let banned = await events.value.compactMap { event -> String? in
            if case .peerBanned(let name, let reason) = event { return "\(name): \(reason)" }
            return nil
        }
        #expect(banned == ["127.0.0.1:\(liar.port): sent metadata that does not hash to the info-hash"])
    }
}

/// A peer that offers metadata of the right size and answers every request with zeros.
final class LyingPeer: Sendable {
    private let server: any Channel

    var port: Int { server.localAddress?.port ?? 0 }

    private init(server: any Channel) { self.server = server }

    static func start(infoHash: SHA1Hash, size: Int) async throws -> LyingPeer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Connection(infoHash: infoHash, size: size))
                }
            }
            .bind(host: "127.0.0.1", port: 0).outcome()
        return LyingPeer(server: channel)
    }

    func close() { server.close(promise: nil) }

    /// One connection: handshake, extension handshake (`ut_metadata` as id 7), then zeros for every request.
    final class Connection: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let infoHash: SHA1Hash
        let size: Int
        var buffer = ByteBuffer()
        var greeted = false
        let parser = PeerMessageParser()

        init(infoHash: SHA1Hash, size: Int) {
            self.infoHash = infoHash
            self.size = size
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var chunk = unwrapInboundIn(data)
            buffer.writeBuffer(&chunk)
            var out = context.channel.allocator.buffer(capacity: 1024)
            if !greeted {
                guard buffer.readableBytes >= Handshake.length else { return }
                buffer.moveReaderIndex(forwardBy: Handshake.length)
                greeted = true
                Handshake(extensions: [.extensionProtocol], infoHash: infoHash, peerID: .shoal()).write(to: &out)
                let ours = ExtensionHandshake(messages: ["ut_metadata": 7], metadataSize: size)
                PeerMessage.extended(id: 0, payload: ByteBuffer(bytes: ours.encoded())).write(to: &out)
            }
            while let message = try? parser.next(from: &buffer) {
                guard case .extended(7, let payload) = message,
                      case .request(let piece)? = try? MetadataMessage(parsing: Array(payload.readableBytesView)) else { continue }
                let zeros = [UInt8](repeating: 0, count: MetadataMessage.pieceLength(piece, of: size))
                let reply = MetadataMessage.data(piece: piece, totalSize: size, payload: zeros)
                PeerMessage.extended(id: ExtensionMessage.metadata.localID, payload: ByteBuffer(bytes: reply.encoded())).write(to: &out)
            }
            if out.readableBytes > 0 { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
        }
    }
}
