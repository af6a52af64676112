import Metainfo
import NIOCore
import NIOPosix
import PeerWire

/// Why a peer connection ended or could not be made.
public enum PeerLinkError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Connecting or the socket failed.
    case transport(String)
    /// The peer closed the connection.
    case closed
    /// The peer answered for another torrent.
    case wrongInfoHash(SHA1Hash)
    /// The peer's bytes broke the wire format.
    case wire(PeerWireError)

    public var description: String {
        switch self {
        case .transport(let what): "connection failed: \(what)"
        case .closed: "the peer closed the connection"
        case .wrongInfoHash(let hash): "the peer answered for another torrent (\(hash))"
        case .wire(let error): "\(error)"
        }
    }
}

/// The receiving side of a socket: chunks as they arrive, with the bytes not yet parsed.
///
/// A class, so that reading never passes an async iterator `inout` across a suspension point (that pattern
/// crashed in swift_task_dealloc with Swift 6.3).
final class SocketReader {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    /// Received bytes not yet consumed.
    var buffer = ByteBuffer()

    init(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) { self.inbound = inbound.makeAsyncIterator() }

    /// Waits for the next chunk from the socket and appends it.
    func readMore() async throws {
        let chunk: ByteBuffer?
        do { chunk = try await inbound.next() } catch { throw PeerLinkError.transport("\(error)") }
        guard var chunk else { throw PeerLinkError.closed }
        // Keep only unparsed bytes: appending to an ever-growing buffer would hold every byte ever received.
        if buffer.readableBytes == 0 {
            buffer = chunk
        } else {
            buffer.discardReadBytes()
            buffer.writeBuffer(&chunk)
        }
    }

    func readHandshake() async throws -> Handshake {
        while true {
            do throws(PeerWireError) {
                if let handshake = try Handshake.read(from: &buffer) { return handshake }
            } catch { throw PeerLinkError.wire(error) }
            try await readMore()
        }
    }
}

/// One open, handshaken TCP connection to a peer, read and written as peer wire messages.
///
/// Used inside ``PeerConnector/withConnection(host:port:handshake:group:_:)`` or ``PeerListener``, which close
/// the socket when the body returns. Bytes are parsed as they arrive, several messages per read; a message
/// longer than the parser's limit ends the connection.
public final class PeerLink {
    /// The peer's handshake.
    public let remote: Handshake
    private let reader: SocketReader
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private let parser = PeerMessageParser()

    init(remote: Handshake, reader: SocketReader, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.remote = remote
        self.reader = reader
        self.outbound = outbound
    }

    /// Sends messages in one write.
    public func send(_ messages: [PeerMessage]) async throws {
        var bytes = ByteBuffer()
        for message in messages { message.write(to: &bytes) }
        do { try await outbound.write(bytes) } catch { throw PeerLinkError.transport("\(error)") }
    }

    /// The next message from the peer.
    public func next() async throws -> PeerMessage {
        while true {
            do throws(PeerWireError) {
                if let message = try parser.next(from: &reader.buffer) { return message }
            } catch { throw PeerLinkError.wire(error) }
            try await reader.readMore()
        }
    }
}

/// Opens connections to peers over TCP (SwiftNIO).
public enum PeerConnector {
    /// Connects to `host:port`, exchanges handshakes (the peer's must name the same torrent), runs `body` with
    /// the connection and closes it.
    public static func withConnection<Result: Sendable>(
        host: String, port: Int, handshake: Handshake,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (PeerLink) async throws -> Result
    ) async throws -> Result {
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(10))
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw PeerLinkError.transport("\(error)")
        }
        return try await channel.executeThenClose { inbound, outbound in
            try await exchangeHandshakes(inbound: inbound, outbound: outbound, opening: handshake, answer: { _ in nil }, body)
        }
    }

    /// Runs the handshake on an open channel and then `body`. The side that connected sends its `opening`
    /// handshake first; the side that accepted (no opening) reads the peer's, asks `answer` for its own (nil
    /// refuses the torrent) and replies. Either way the peer must name the torrent of the handshake we send.
    static func exchangeHandshakes<Result: Sendable>(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        opening: Handshake?, answer: (Handshake) -> Handshake?, _ body: (PeerLink) async throws -> Result
    ) async throws -> Result {
        // The writes stay inline: moved into a helper function, the await on the writer crashed in
        // swift_task_dealloc (Swift 6.3).
        if let opening {
            var greeting = ByteBuffer()
            opening.write(to: &greeting)
            do { try await outbound.write(greeting) } catch { throw PeerLinkError.transport("\(error)") }
        }
        let reader = SocketReader(inbound)
        let remote = try await reader.readHandshake()
        let ours: Handshake
        if let opening {
            ours = opening
        } else {
            guard let reply = answer(remote) else { throw PeerLinkError.wrongInfoHash(remote.infoHash) }
            var greeting = ByteBuffer()
            reply.write(to: &greeting)
            do { try await outbound.write(greeting) } catch { throw PeerLinkError.transport("\(error)") }
            ours = reply
        }
        guard remote.infoHash == ours.infoHash else { throw PeerLinkError.wrongInfoHash(remote.infoHash) }
        let link = PeerLink(remote: remote, reader: reader, outbound: outbound)
        return try await body(link)
    }
}
