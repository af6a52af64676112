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

/// One open, handshaken TCP connection to a peer, read and written as peer wire messages.
///
/// Used inside ``PeerConnector/withConnection(host:port:handshake:group:_:)``, which closes the socket when
/// the body returns. Bytes are parsed as they arrive, several messages per read; a message longer than the
/// parser's limit ends the connection.
public final class PeerLink {
    /// The peer's handshake.
    public let remote: Handshake
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffer: ByteBuffer
    private let parser: PeerMessageParser

    fileprivate init(remote: Handshake, inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
                     outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, buffer: ByteBuffer, parser: PeerMessageParser) {
        self.remote = remote
        self.inbound = inbound
        self.outbound = outbound
        self.buffer = buffer
        self.parser = parser
    }

    /// Sends messages in one write.
    public func send(_ messages: [PeerMessage]) async throws(PeerLinkError) {
        var bytes = ByteBuffer()
        for message in messages { message.write(to: &bytes) }
        do { try await outbound.write(bytes) } catch { throw .transport("\(error)") }
    }

    /// The next message from the peer.
    public func next() async throws(PeerLinkError) -> PeerMessage {
        while true {
            do {
                if let message = try parser.next(from: &buffer) { return message }
            } catch { throw .wire(error) }
            try await readMore()
        }
    }

    private func readMore() async throws(PeerLinkError) {
        try await Self.read(from: &inbound, into: &buffer)
    }

    /// Appends the next chunk from the socket to `buffer`.
    fileprivate static func read(from inbound: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
                                 into buffer: inout ByteBuffer) async throws(PeerLinkError) {
        let chunk: ByteBuffer?
        do { chunk = try await inbound.next() } catch { throw .transport("\(error)") }
        guard var chunk else { throw .closed }
        // Keep only unparsed bytes: appending to an ever-growing buffer would hold every byte ever received.
        if buffer.readableBytes == 0 {
            buffer = chunk
        } else {
            buffer.discardReadBytes()
            buffer.writeBuffer(&chunk)
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
            var greeting = ByteBuffer()
            handshake.write(to: &greeting)
            do { try await outbound.write(greeting) } catch { throw PeerLinkError.transport("\(error)") }
            var iterator = inbound.makeAsyncIterator()
            var buffer = ByteBuffer()
            var remote: Handshake?
            while remote == nil {
                do throws(PeerWireError) { remote = try Handshake.read(from: &buffer) } catch { throw PeerLinkError.wire(error) }
                if remote == nil { try await PeerLink.read(from: &iterator, into: &buffer) }
            }
            guard let remote, remote.infoHash == handshake.infoHash else {
                throw PeerLinkError.wrongInfoHash(remote?.infoHash ?? handshake.infoHash)
            }
            let connected = PeerLink(remote: remote, inbound: iterator, outbound: outbound, buffer: buffer,
                                     parser: PeerMessageParser())
            return try await body(connected)
        }
    }
}
