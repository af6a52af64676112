@testable import Engine
import Metainfo
import NIOCore
import NIOEmbedded
import PeerWire
import Testing

/// PeerTimeouts on an embedded channel, whose clock the test moves.
@Suite struct PeerTimeoutsTests {
    static func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: PeerTimeouts(handshakeTimeout: .seconds(20), idleTimeout: .seconds(180),
                                                            keepAliveInterval: .seconds(60)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6881)).wait()
        return channel
    }

    static func handshake() -> ByteBuffer {
        var bytes = ByteBuffer()
        Handshake(extensions: [], infoHash: SHA1Hash(storage: .init()), peerID: .shoal()).write(to: &bytes)
        return bytes
    }

    @Test("A peer that sends no handshake within 20 s is closed")
    func handshakeTimeout() throws {
        let channel = try Self.channel()
        try channel.writeInbound(ByteBuffer(bytes: Handshake.protocolHeader))
        channel.embeddedEventLoop.advanceTime(by: .seconds(15))
        #expect(channel.isActive, "15 s is within the limit")
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(!channel.isActive)
    }

    @Test("A quiet connection gets a keep-alive every minute and is closed after 3 minutes of the peer's silence")
    func keepAliveAndIdle() throws {
        let channel = try Self.channel()
        try channel.writeInbound(Self.handshake())
        _ = try channel.readInbound(as: ByteBuffer.self)
        channel.embeddedEventLoop.advanceTime(by: .seconds(65))
        let keepAlive = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(keepAlive.readableBytesView) == [0, 0, 0, 0])
        #expect(channel.isActive, "the handshake came in time")
        // The peer speaks at 170 s, so it is closed 180 s after that, not before.
        channel.embeddedEventLoop.advanceTime(by: .seconds(105))
        try channel.writeInbound(ByteBuffer(bytes: [0, 0, 0, 0]))
        channel.embeddedEventLoop.advanceTime(by: .seconds(170))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(20))
        #expect(!channel.isActive)
    }
}
