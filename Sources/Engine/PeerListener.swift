import Metainfo
import NIOCore
import NIOPosix
import PeerWire
import Synchronization

/// Accepts incoming peer connections on a TCP port (SwiftNIO) and hands each, handshaken, to a handler.
public struct PeerListener: Sendable {
    /// The port actually bound (useful when asked for port 0).
    public let port: Int
    private let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>

    /// Binds `host:port` (0 picks a free port).
    public static func bind(host: String = "0.0.0.0", port: Int,
                            group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> PeerListener {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return PeerListener(port: server.channel.localAddress?.port ?? port, server: server)
    }

    /// Accepts connections until cancelled, running each in a task of its own: reads the peer's handshake,
    /// answers with `answer(theirs)` (nil closes the connection: not our torrent), then runs `handler`.
    /// `address` names the peer for `permits`, which may refuse it before a byte is read.
    /// At most `maxConnections` accepted connections are served at once; more are closed at once, so a flood
    /// of connections cannot grow memory without bound.
    public func serve(maxConnections: Int = 200, answer: @escaping @Sendable (Handshake) -> Handshake?,
                      permits: @escaping @Sendable (IPAddress?) -> Bool = { _ in true },
                      handler: @escaping @Sendable (PeerLink, String) async -> Void) async throws {
        let active = ConnectionCount()
        try await server.executeThenClose { connections in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in connections {
                    let remote = connection.channel.remoteAddress
                    let name = remote.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                    guard permits(remote?.ipAddress.flatMap(IPAddress.init)), active.claim(below: maxConnections) else {
                        try? await connection.executeThenClose { _, _ in }
                        continue
                    }
                    group.addTask {
                        await Self.handle(connection, name: name, answer: answer, handler: handler)
                        active.release()
                    }
                }
            }
        }
    }

    private static func handle(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, name: String,
                               answer: @escaping @Sendable (Handshake) -> Handshake?,
                               handler: @escaping @Sendable (PeerLink, String) async -> Void) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await PeerConnector.exchangeHandshakes(inbound: inbound, outbound: outbound, opening: nil, answer: answer) { link in
                    await handler(link, name)
                }
            }
        } catch {
            // The handler reports what it cares about; a failed handshake just closes the socket.
        }
    }
}

/// How many accepted connections are being served.
private final class ConnectionCount: Sendable {
    private let count = Atomic<Int>(0)

    /// Takes a place if fewer than `limit` are taken.
    func claim(below limit: Int) -> Bool {
        var current = count.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = count.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release() { count.subtract(1, ordering: .acquiringAndReleasing) }
}
