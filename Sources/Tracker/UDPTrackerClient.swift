import Metainfo
import NIOCore
import NIOPosix
import NIOSupport
import Synchronization

/// Announces and scrapes over UDP (BEP 15, URL data BEP 41), IPv4 and IPv6, from one socket per address family.
///
/// A connection id is fetched once per tracker address and reused until it expires (a minute, as BEP 15 says
/// clients may). A request that gets no answer is sent again after 15·2ⁿ seconds, n counting up from 0, until
/// ``Configuration/attempts`` sends have gone unanswered. A reply counts only if it comes from the address asked
/// and carries the transaction id of a request in flight: anything else is dropped and counted.
public final class UDPTrackerClient: Sendable {
    public struct Configuration: Sendable {
        /// The first wait for an answer; each resend doubles it. BEP 15 says 15 seconds.
        public var retransmitBase: Duration = .seconds(15)
        /// Sends per request before giving up. BEP 15 allows 9 (about an hour); a client with other trackers to
        /// try does better moving on sooner. Default 4: 15 + 30 + 60 + 120 seconds.
        public var attempts = 4
        /// How long a connection id is used.
        public var connectionIDLifetime: Duration = .seconds(60)
        public init() {}
    }

    private struct Pending {
        let from: SocketAddress
        let continuation: CheckedContinuation<ByteBuffer?, Never>
    }

    private struct State {
        var channels: [Int32: EventLoopFuture<any Channel>] = [:]
        var pending: [UInt32: Pending] = [:]
        var connectionIDs: [SocketAddress: (id: UInt64, expires: NIODeadline)] = [:]
        var closed = false
    }

    private let group: any EventLoopGroup
    private let configuration: Configuration
    private let state = Mutex(State())
    private let dropped = Atomic<Int>(0)

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, configuration: Configuration = Configuration()) {
        self.group = group
        self.configuration = configuration
    }

    deinit { close() }

    /// Replies dropped so far: from the wrong address, for no request in flight, or too short to read.
    public var droppedReplies: Int { dropped.load(ordering: .relaxed) }

    /// Announces `request` to the tracker at `url` (`udp://host:port[/path?query]`); `configuration` replaces the
    /// client's waits and attempts for this request (its connection-id lifetime stays).
    public func announce(_ url: String, _ request: AnnounceRequest,
                         configuration: Configuration? = nil) async throws(TrackerError) -> AnnounceResponse {
        let target = try TrackerURL(url)
        let address = try await resolve(target)
        let reply = try await exchange(with: address, configuration: configuration ?? self.configuration) { id, transaction in
            UDPTrackerCodec.announceRequest(connectionID: id, transaction: transaction, request, urlData: Array(target.pathAndQuery.utf8))
        }
        guard case .announced(let response) = reply else { throw .malformed("an announce answered with \(reply)") }
        return response
    }

    /// Asks the tracker at `url` for the counts of up to 74 swarms, in the order asked.
    public func scrape(_ url: String, infoHashes: [SHA1Hash]) async throws(TrackerError) -> [ScrapeCounts] {
        guard !infoHashes.isEmpty, infoHashes.count <= UDPTrackerCodec.maxScrapeHashes else {
            throw .unsupported("a UDP scrape asks about 1 to \(UDPTrackerCodec.maxScrapeHashes) torrents")
        }
        let target = try TrackerURL(url)
        let address = try await resolve(target)
        let reply = try await exchange(with: address, configuration: configuration) { id, transaction in
            UDPTrackerCodec.scrapeRequest(connectionID: id, transaction: transaction, infoHashes: infoHashes)
        }
        guard case .scraped(let counts) = reply, counts.count == infoHashes.count else {
            throw .malformed("a scrape of \(infoHashes.count) torrents answered with \(reply)")
        }
        return counts
    }

    /// Closes the sockets; requests in flight end as timed out.
    public func close() {
        let (channels, pending) = state.withLock { state in
            state.closed = true
            defer { state.channels = [:]; state.pending = [:] }
            return (Array(state.channels.values), Array(state.pending.values))
        }
        for channel in channels { channel.whenSuccess { $0.close(promise: nil) } }
        for request in pending { request.continuation.resume(returning: nil) }
    }

    /// Connects if need be, then sends `makePacket`'s request until answered, sharing one back-off count.
    private func exchange(with address: SocketAddress, configuration: Configuration, makePacket: (UInt64, UInt32) -> ByteBuffer) async throws(TrackerError) -> UDPTrackerCodec.Reply {
        let channel = try await channel(for: address)
        // Each packet gets its own resends: a connect that took the last attempt would leave the request unsent.
        var connectAttempt = 0
        var attempt = 0
        let peerWidth = address.protocol == .inet6 ? 18 : 6
        let connectionID: UInt64
        if let known = state.withLock({ $0.connectionIDs[address] }), known.expires > .now() {
            connectionID = known.id
        } else {
            let reply = try await send(channel, to: address, attempt: &connectAttempt, configuration: configuration, peerWidth: peerWidth) {
                UDPTrackerCodec.connectRequest(transaction: $0)
            }
            guard case .connected(let id) = reply else {
                if case .error(let message) = reply { throw .failure(message) }
                throw .malformed("a connect answered with \(reply)")
            }
            let expires = NIODeadline.now() + TimeAmount(self.configuration.connectionIDLifetime)
            state.withLock { state in
                let now = NIODeadline.now()
                state.connectionIDs = state.connectionIDs.filter { $0.value.expires > now }
                state.connectionIDs[address] = (id, expires)
            }
            connectionID = id
        }
        let reply = try await send(channel, to: address, attempt: &attempt, configuration: configuration, peerWidth: peerWidth) { makePacket(connectionID, $0) }
        if case .error(let message) = reply {
            // The id may be what the tracker refused: forget it, so the next request connects afresh.
            state.withLock { _ = $0.connectionIDs.removeValue(forKey: address) }
            throw .failure(message)
        }
        return reply
    }

    /// Sends one request and waits for its reply, resending after 15·2ⁿ seconds while attempts remain.
    private func send(_ channel: any Channel, to address: SocketAddress, attempt: inout Int, configuration: Configuration, peerWidth: Int,
                      packet: (UInt32) -> ByteBuffer) async throws(TrackerError) -> UDPTrackerCodec.Reply {
        while attempt < configuration.attempts {
            let wait = TimeAmount(configuration.retransmitBase) * (1 << min(attempt, 8))
            attempt += 1
            let transaction = UInt32.random(in: .min ... .max)
            let envelope = AddressedEnvelope(remoteAddress: address, data: packet(transaction))
            let answer: ByteBuffer? = await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let registered = state.withLock { state in
                        guard !state.closed, state.pending[transaction] == nil else { return false }
                        state.pending[transaction] = Pending(from: address, continuation: continuation)
                        return true
                    }
                    guard registered else { return continuation.resume(returning: nil) }
                    // A cancellation that came before the request was registered found nothing to end.
                    if Task.isCancelled { return complete(transaction, with: nil) }
                    channel.writeAndFlush(envelope, promise: nil)
                    channel.eventLoop.scheduleTask(in: wait) { [weak self] in self?.complete(transaction, with: nil) }
                }
            } onCancel: {
                complete(transaction, with: nil)
            }
            if Task.isCancelled { throw .cancelled }
            if let answer { return try UDPTrackerCodec.parseReply(answer, peerWidth: peerWidth) }
            if state.withLock({ $0.closed }) { break }
        }
        throw .timedOut
    }

    /// Hands a reply (or nil, for a timeout) to the request waiting on `transaction`, if any.
    private func complete(_ transaction: UInt32, with packet: ByteBuffer?, from sender: SocketAddress? = nil) {
        let waiting = state.withLock { state -> Pending? in
            guard let pending = state.pending[transaction] else { return nil }
            if let sender, sender != pending.from { return nil }
            state.pending[transaction] = nil
            return pending
        }
        guard let waiting else {
            if packet != nil { dropped.add(1, ordering: .relaxed) }
            return
        }
        waiting.continuation.resume(returning: packet)
    }

    private func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        guard let transaction = UDPTrackerCodec.transaction(of: envelope.data) else {
            dropped.add(1, ordering: .relaxed)
            return
        }
        complete(transaction, with: envelope.data, from: envelope.remoteAddress)
    }

    /// The socket for the address family of `address`, bound on first use.
    private func channel(for address: SocketAddress) async throws(TrackerError) -> any Channel {
        let family = address.protocol.rawValue
        let future = state.withLock { state -> EventLoopFuture<any Channel>? in
            guard !state.closed else { return nil }
            if let existing = state.channels[family] { return existing }
            let created = DatagramBootstrap(group: group)
                .channelInitializer { [weak self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ReplyHandler { self?.received($0) })
                    }
                }
                .bind(host: address.protocol == .inet6 ? "::" : "0.0.0.0", port: 0)
            state.channels[family] = created
            return created
        }
        guard let future else { throw .transport("the UDP tracker client is closed") }
        do { return try await future.outcome() } catch {
            state.withLock { _ = $0.channels.removeValue(forKey: family) }
            throw .transport("cannot open a UDP socket: \(error)")
        }
    }

    private func resolve(_ target: TrackerURL) async throws(TrackerError) -> SocketAddress {
        let port = target.port
        if let address = try? SocketAddress(ipAddress: target.host, port: port) { return address }
        let host = target.host
        do {
            return try await NIOThreadPool.singleton.runIfActive(eventLoop: group.next()) { try SocketAddress.makeAddressResolvingHost(host, port: port) }.outcome()
        } catch {
            throw .transport("cannot resolve \(host): \(error)")
        }
    }
}

/// Hands each datagram to the client.
private final class ReplyHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let onReply: (AddressedEnvelope<ByteBuffer>) -> Void

    init(onReply: @escaping (AddressedEnvelope<ByteBuffer>) -> Void) { self.onReply = onReply }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onReply(unwrapInboundIn(data))
    }
}
