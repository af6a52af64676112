import Metainfo
import NIOCore
import Synchronization

extension EventLoopFuture where Value: Sendable {
    /// The future's value, awaited. Not `get()`: with Swift 6.3, awaiting `get()` (a throwing continuation)
    /// in the engine's tasks crashed in swift_task_dealloc ("freed pointer was not the last allocation"),
    /// in release builds even where debug builds ran; a continuation that cannot throw does not.
    /// Inlinable for the same crash: called across modules without inlining, the release build of
    /// `shoal download` crashed the same way on every run (Scripts/run); inlined into its callers it does not.
    @inlinable
    package func outcome() async throws -> Value {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, any Error>, Never>) in
            whenComplete { continuation.resume(returning: $0) }
        }
        return try result.get()
    }
}

extension SocketAddress {
    /// The address's IP, read from the socket address itself (no text round trip), with an IPv4-mapped IPv6
    /// address as the IPv4 address it carries; nil for a Unix socket.
    package var ip: IPAddress? {
        switch self {
        case .v4(let v4): return .v4(UInt32(bigEndian: v4.address.sin_addr.s_addr))
        case .v6(let v6):
            let value = withUnsafeBytes(of: v6.address.sin6_addr) { $0.reduce(UInt128(0)) { $0 << 8 | UInt128($1) } }
            return IPAddress.v6(value).unmapped
        case .unixDomainSocket: return nil
        }
    }
}

/// Hands every datagram a channel reads to a closure, on the channel's event loop.
package final class DatagramReader: ChannelInboundHandler, Sendable {
    package typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let handle: @Sendable (ByteBuffer, SocketAddress) -> Void

    package init(_ handle: @escaping @Sendable (ByteBuffer, SocketAddress) -> Void) { self.handle = handle }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        handle(envelope.data, envelope.remoteAddress)
    }
}

/// A reference set once it exists: lets a channel's handler, made before the service that owns the channel,
/// reach that service.
package final class LateReference<Value: AnyObject & Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)

    package init() {}

    package var target: Value? {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

extension ChannelOption where Self == ChannelOptions.Types.SocketOption {
    /// IPV6_V6ONLY: an IPv6 socket that takes no IPv4, beside an IPv4 socket on the same port.
    package static var ipv6Only: Self { .init(level: .ipv6, name: .ipv6_v6only) }
}
