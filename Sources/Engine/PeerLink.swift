import Metainfo
import NIOCore
import NIOPosix
import NIOSupport
import PeerWire
import Synchronization

/// Why a peer connection ended or could not be made.
public enum PeerLinkError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Connecting or the socket failed.
    case transport(String)
    /// The peer closed the connection, or we did.
    case closed
    /// The peer answered for another torrent.
    case wrongInfoHash(SHA1Hash)
    /// The peer's bytes broke the wire format.
    case wire(PeerWireError)

    public var description: String {
        switch self {
        case .transport(let what): "connection failed: \(what)"
        case .closed: "the connection was closed"
        case .wrongInfoHash(let hash): "the peer answered for another torrent (\(hash))"
        case .wire(let error): "\(error)"
        }
    }
}

/// How a peer is named in events: `host:port`, with an IPv6 host in brackets.
func peerName(host: String, port: Int) -> String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

/// The bytes a socket has received, handed from its event loop to the one task that reads the connection.
///
/// The event loop appends; the task takes everything at once. While more than ``highWater`` bytes wait, the
/// socket is not read (TCP then slows the peer down), so a peer faster than its reader costs bounded memory.
/// Another task may ``wake()`` the reader so it looks at what changed without waiting for the peer.
final class SocketInbox: Sendable {
    private struct State {
        var pending = ByteBuffer()
        var ended: PeerLinkError?
        var woken = false
        /// Whether the socket takes more writes without queueing past its high-water mark.
        var writable = true
        /// The pipeline asked for a read while we were above the high-water mark.
        var readHeld = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    /// What ``take()`` found.
    enum Taken {
        case bytes(ByteBuffer, resumeReading: Bool)
        case woken
        case ended(PeerLinkError)
        case nothing
    }

    static let highWater = 4 << 20
    private let state = Mutex(State())

    /// From the event loop: bytes arrived.
    func deliver(_ chunk: ByteBuffer) {
        let waiter = state.withLock { state in
            if state.pending.readableBytes == 0 {
                state.pending = chunk
            } else {
                var chunk = chunk
                state.pending.writeBuffer(&chunk)
            }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// From the event loop, before passing a read request on: false holds it until the task catches up.
    func mayRead() -> Bool {
        state.withLock { state in
            guard state.pending.readableBytes >= Self.highWater else { return true }
            state.readHeld = true
            return false
        }
    }

    /// The connection is over; the reader sees `reason` once it has taken what arrived before.
    func end(_ reason: PeerLinkError) {
        let waiter = state.withLock { state in
            if state.ended == nil { state.ended = reason }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// From the event loop: the socket's outgoing queue crossed a water mark.
    func setWritable(_ writable: Bool) {
        let waiter = state.withLock { state in
            state.writable = writable
            defer { if writable { state.waiter = nil } }
            return writable ? state.waiter : nil
        }
        waiter?.resume()
    }

    /// Waits until the socket takes more writes; throws if the connection ended first.
    func waitUntilWritable() async throws(PeerLinkError) {
        while true {
            let (writable, ended) = state.withLock { ($0.writable, $0.ended) }
            if let ended { throw ended }
            if writable { return }
            await park { $0.writable || $0.ended != nil }
        }
    }

    /// Makes the reader return from its wait with no bytes.
    func wake() {
        let waiter = state.withLock { state in
            state.woken = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Everything received so far, or why there is nothing.
    func take() -> Taken {
        state.withLock { state in
            if state.pending.readableBytes > 0 {
                let bytes = state.pending
                state.pending = ByteBuffer()
                defer { state.readHeld = false }
                return .bytes(bytes, resumeReading: state.readHeld)
            }
            if let ended = state.ended { return .ended(ended) }
            if state.woken {
                state.woken = false
                return .woken
            }
            return .nothing
        }
    }

    /// Waits until something arrives, the connection ends or the reader is woken (or its task is cancelled).
    func wait() async {
        await park { $0.pending.readableBytes > 0 || $0.ended != nil || $0.woken }
    }

    /// Suspends until anything changes, unless `ready` already holds. Cancelling the task ends the connection.
    /// Only the task that owns the connection parks here, so one waiter slot is enough.
    private func park(unless ready: @escaping @Sendable (borrowing State) -> Bool) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state in
                    guard !ready(state) else { return true }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            end(.closed)
        }
    }
}

/// Hands a socket's bytes to its ``SocketInbox`` and holds reads while the inbox is full.
final class InboxHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let inbox: SocketInbox

    init(inbox: SocketInbox) { self.inbox = inbox }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inbox.deliver(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.end(.closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        inbox.end(.transport("\(error)"))
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if inbox.mayRead() { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        inbox.setWritable(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }
}

/// An open TCP connection to a peer, before or after the handshake.
struct PeerSocket: Sendable {
    let channel: any Channel
    let inbox: SocketInbox

    /// Adds the handlers every peer connection has, before it reads a byte; call on the channel's event loop.
    static func configure(_ channel: any Channel, inbox: SocketInbox = SocketInbox()) throws -> PeerSocket {
        // Room for a few batches of blocks before a sender waits (NIO's default is 32 to 64 KiB).
        try channel.syncOptions?.setOption(.writeBufferWaterMark, value: .init(low: 1 << 20, high: 4 << 20))
        try channel.pipeline.syncOperations.addHandlers([PeerTimeouts(), InboxHandler(inbox: inbox)])
        return PeerSocket(channel: channel, inbox: inbox)
    }
}

/// One open, handshaken TCP connection to a peer, read and written as peer wire messages.
///
/// Made by ``PeerConnector/connect(host:port:handshake:group:)`` or handed over by ``PeerListener``; whoever
/// holds it closes it. Bytes are parsed as they arrive, several messages per read; a message longer than the
/// parser's limit ends the connection. Only the task that owns the link reads and writes it; ``sender`` may be
/// used from any task.
public final class PeerLink {
    /// The peer's handshake.
    public let remote: Handshake
    /// The peer's address, when the socket knows it.
    public let address: SocketAddress?
    /// The peer's IP address (an IPv4 peer on a dual-stack socket as IPv4).
    public var ip: IPAddress? { address?.ip }
    /// Wakes or closes the connection; shared with other tasks.
    public let sender: PeerSender
    private let socket: PeerSocket
    /// Received bytes not yet parsed.
    private var buffer: ByteBuffer
    private let parser = PeerMessageParser()

    fileprivate init(remote: Handshake, socket: PeerSocket, buffer: ByteBuffer) {
        self.remote = remote
        self.socket = socket
        self.buffer = buffer
        sender = PeerSender(socket: socket)
        address = socket.channel.remoteAddress
    }

    /// Sends messages in one write, then waits while the socket's outgoing queue is over its high-water mark.
    /// Blocks of piece messages go out from their own buffers, uncopied.
    ///
    /// Nothing here awaits an `EventLoopFuture`: with Swift 6.3, awaiting one (or NIOAsyncChannel's writer)
    /// in a function called from the connection's task crashed in swift_task_dealloc ("freed pointer was not
    /// the last allocation"), so writes are fire-and-forget and back-pressure comes from writability.
    public func send(_ messages: [PeerMessage]) async throws {
        let channel = socket.channel
        var bytes = channel.allocator.buffer(capacity: 256)
        for message in messages {
            guard case .piece(let piece, let offset, let data) = message else {
                message.write(to: &bytes)
                continue
            }
            PeerMessage.writePieceHeader(piece: piece, offset: offset, length: data.readableBytes, to: &bytes)
            channel.write(bytes, promise: nil)
            channel.write(data, promise: nil)
            bytes.clear()
        }
        if bytes.readableBytes > 0 { channel.write(bytes, promise: nil) }
        channel.flush()
        try await socket.inbox.waitUntilWritable()
    }

    /// Every complete message received so far; if there is none and `wait` is true, waits for the socket.
    /// Returns an empty batch when woken by ``PeerSender/wake()``. `bytes` counts what was read from the
    /// socket for it.
    public func receive(wait: Bool = true, maxMessages: Int = 256) async throws -> (messages: [PeerMessage], bytes: Int) {
        var messages = try parseAvailable(max: maxMessages)
        var received = 0
        while messages.isEmpty {
            switch socket.inbox.take() {
            case .bytes(let chunk, let resumeReading):
                received += chunk.readableBytes
                append(chunk)
                if resumeReading { socket.channel.read() }
                messages = try parseAvailable(max: maxMessages)
            case .ended(let reason):
                throw reason
            case .woken:
                return (messages, received)
            case .nothing:
                guard wait else { return (messages, received) }
                await socket.inbox.wait()
            }
        }
        return (messages, received)
    }

    /// Closes the connection.
    public func close() { socket.channel.close(promise: nil) }

    private func append(_ chunk: ByteBuffer) {
        // Keep only unparsed bytes: appending to an ever-growing buffer would hold every byte ever received.
        if buffer.readableBytes == 0 {
            buffer = chunk
        } else {
            var chunk = chunk
            buffer.discardReadBytes()
            buffer.writeBuffer(&chunk)
        }
    }

    private func parseAvailable(max: Int) throws(PeerLinkError) -> [PeerMessage] {
        var messages: [PeerMessage] = []
        do throws(PeerWireError) {
            while messages.count < max, let message = try parser.next(from: &buffer) { messages.append(message) }
        } catch { throw PeerLinkError.wire(error) }
        return messages
    }

    /// Runs the handshake on an open socket and returns the link; closes the socket if it fails. The side
    /// that connected sends its `opening` handshake first; the side that accepted (no opening) reads the
    /// peer's, asks `answer` for its own (nil refuses the torrent) and replies. Either way the peer must name
    /// the torrent of the handshake we send.
    static func handshake(_ socket: PeerSocket, opening: Handshake?, answer: @escaping @Sendable (Handshake) -> Handshake?) async throws -> PeerLink {
        do {
            if let opening { write(opening, to: socket) }
            var buffer = ByteBuffer()
            var remote: Handshake?
            while remote == nil {
                do throws(PeerWireError) {
                    remote = try Handshake.read(from: &buffer)
                } catch { throw PeerLinkError.wire(error) }
                guard remote == nil else { break }
                switch socket.inbox.take() {
                case .bytes(var chunk, let resumeReading):
                    buffer.writeBuffer(&chunk)
                    if resumeReading { socket.channel.read() }
                case .ended(let reason): throw reason
                case .woken: continue
                case .nothing: await socket.inbox.wait()
                }
            }
            guard let remote else { throw PeerLinkError.closed }
            let ours: Handshake
            if let opening {
                ours = opening
            } else {
                guard let reply = answer(remote) else { throw PeerLinkError.wrongInfoHash(remote.infoHash) }
                write(reply, to: socket)
                ours = reply
            }
            guard remote.infoHash == ours.infoHash else { throw PeerLinkError.wrongInfoHash(remote.infoHash) }
            return PeerLink(remote: remote, socket: socket, buffer: buffer)
        } catch {
            socket.channel.close(promise: nil)
            throw error
        }
    }

    /// Not awaited: see ``send(_:)``.
    private static func write(_ handshake: Handshake, to socket: PeerSocket) {
        var bytes = ByteBuffer()
        handshake.write(to: &bytes)
        socket.channel.writeAndFlush(bytes, promise: nil)
    }
}

/// What other tasks may do to a connection they do not own: wake its task, or close it.
public struct PeerSender: Sendable {
    private let socket: PeerSocket

    fileprivate init(socket: PeerSocket) { self.socket = socket }

    /// Makes the task reading this connection return from ``PeerLink/receive(wait:maxMessages:)``, so it looks
    /// at what changed (a choke decision, a piece to announce) without waiting for the peer to send something.
    public func wake() { socket.inbox.wake() }

    /// Closes the connection (for a ban, or when the torrent stops).
    public func close() { socket.channel.close(promise: nil) }
}

/// Opens connections to peers over TCP (SwiftNIO).
public enum PeerConnector {
    /// Connects to `host:port` and exchanges handshakes (the peer's must name the same torrent). The caller
    /// closes the link when done with it.
    public static func connect(host: String, port: Int, handshake: Handshake,
                               group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> PeerLink {
        let inbox = SocketInbox()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(10))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { _ = try PeerSocket.configure(channel, inbox: inbox) }
                }
                .connect(host: host, port: port)
                .outcome()
        } catch {
            throw PeerLinkError.transport("\(error)")
        }
        return try await PeerLink.handshake(PeerSocket(channel: channel, inbox: inbox), opening: handshake, answer: { _ in nil })
    }
}

/// Closes connections that stall and keeps quiet ones open, on the channel's event loop and by its clock: a peer has
/// ``handshakeTimeout`` to send its handshake and must send something (a keep-alive at least) every
/// ``idleTimeout``; we send a keep-alive after ``keepAliveInterval`` without writing.
final class PeerTimeouts: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let handshakeTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let keepAliveInterval: TimeAmount
    private var received = 0
    private var started = NIODeadline.now()
    private var lastRead = NIODeadline.now()
    private var lastWrite = NIODeadline.now()
    private var check: RepeatedTask?

    init(handshakeTimeout: TimeAmount = .seconds(20), idleTimeout: TimeAmount = .seconds(180),
         keepAliveInterval: TimeAmount = .seconds(60)) {
        self.handshakeTimeout = handshakeTimeout
        self.idleTimeout = idleTimeout
        self.keepAliveInterval = keepAliveInterval
    }

    func handlerAdded(context: ChannelHandlerContext) {
        started = context.eventLoop.now
        lastRead = started
        lastWrite = started
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(5), delay: .seconds(5)) { _ in
            let (handler, context) = loopBound.value
            handler.tick(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { check?.cancel() }

    func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytes
        lastRead = context.eventLoop.now
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastWrite = context.eventLoop.now
        context.write(data, promise: promise)
    }

    private func tick(context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        if received < Handshake.length, now - started > handshakeTimeout {
            context.close(promise: nil)
        } else if now - lastRead > idleTimeout {
            context.close(promise: nil)
        } else if received >= Handshake.length, now - lastWrite > keepAliveInterval {
            var keepAlive = context.channel.allocator.buffer(capacity: 4)
            PeerMessage.keepAlive.write(to: &keepAlive)
            lastWrite = now
            context.writeAndFlush(wrapOutboundOut(keepAlive), promise: nil)
        }
    }
}
