import Metainfo
import NIOCore
import NIOPosix
import NIOSupport
import PeerWire
import Synchronization

/// Accepts incoming peer connections on a TCP port (SwiftNIO) and hands each, handshaken, to a handler.
public struct PeerListener: Sendable {
    /// The port actually bound (useful when asked for port 0).
    public let port: Int
    private let server: any Channel
    private let accepted: AsyncStream<PeerSocket>

    /// Accepted sockets waiting for ``serve(maxConnections:answer:permits:handler:)``; more are closed at once.
    static let backlog = 64

    /// Binds `host:port` (0 picks a free port). On Linux `::` takes IPv4 peers too, as mapped addresses.
    public static func bind(host: String = "0.0.0.0", port: Int,
                            group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> PeerListener {
        let (accepted, continuation) = AsyncStream.makeStream(of: PeerSocket.self, bufferingPolicy: .bufferingOldest(backlog))
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let socket = try PeerSocket.configure(channel)
                    if case .dropped = continuation.yield(socket) { channel.close(promise: nil) }
                }
            }
            .bind(host: host, port: port)
            .outcome()
        server.closeFuture.whenComplete { _ in continuation.finish() }
        return PeerListener(port: server.localAddress?.port ?? port, server: server, accepted: accepted)
    }

    /// Stops accepting connections; those being served go on.
    public func close() { server.close(promise: nil) }

    /// Accepts connections until cancelled (then the port is closed), running each in a task of its own: reads
    /// the peer's handshake, answers with `answer(theirs)` (nil closes the connection: not our torrent), runs
    /// `handler` and closes the connection when it returns. `address` names the peer for `permits`, which may
    /// refuse it before a byte is read. At most `maxConnections` accepted connections are served at once; more
    /// are closed at once, so a flood of connections cannot grow memory without bound.
    public func serve(maxConnections: Int = 200, answer: @escaping @Sendable (Handshake) -> Handshake?,
                      permits: @escaping @Sendable (IPAddress?) -> Bool = { _ in true },
                      handler: @escaping @Sendable (PeerLink, String) async -> Void) async {
        let active = SlotCount()
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                for await socket in accepted {
                    let remote = socket.channel.remoteAddress
                    let ip = remote?.ipAddress.flatMap(IPAddress.init)?.unmapped
                    let name = peerName(host: ip?.description ?? "?", port: remote?.port ?? 0)
                    guard permits(ip), active.claim(below: maxConnections) else {
                        socket.channel.close(promise: nil)
                        continue
                    }
                    group.addTask {
                        if let link = try? await PeerLink.handshake(socket, opening: nil, answer: answer) {
                            await handler(link, name)
                            link.close()
                        }
                        active.release()
                    }
                }
            }
        } onCancel: {
            close()
        }
    }
}

/// A count of places taken (connections open), claimed only below a limit, safe from any thread.
final class SlotCount: Sendable {
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

    /// The places taken now.
    var taken: Int { count.load(ordering: .relaxed) }
}
