import Metainfo
import NIOCore
import NIOSupport
import Tracker

/// Answers BEP 15 datagrams. Before a client has shown, with a connection id, that it receives at its address,
/// no reply is longer than its request, so the tracker cannot be used to flood a forged source address.
final class UDPTrackerHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let server: TrackerServer

    init(server: TrackerServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let sender = envelope.remoteAddress
        guard let request = UDPTrackerCodec.parseRequest(envelope.data) else {
            server.counters.dropped.add(1, ordering: .relaxed)
            return
        }
        var reply = context.channel.allocator.buffer(capacity: 0)
        switch request {
        case .connect(let transaction):
            server.counters.udpConnects.add(1, ordering: .relaxed)
            UDPTrackerCodec.writeConnectReply(transaction: transaction, connectionID: server.connectionID(for: sender), into: &reply)
        case .announce(let connectionID, let transaction, let announce):
            guard server.acceptsConnectionID(connectionID, from: sender) else {
                return refuse(transaction, "connection id expired; connect again", requestLength: envelope.data.readableBytes, to: sender, context)
            }
            guard server.serves(announce.infoHash) else {
                return refuse(transaction, "unregistered torrent", requestLength: .max, to: sender, context)
            }
            guard let ip = sender.ip else { return }
            // At most what fits a datagram, whatever the tracker's own bound says.
            let numWant = min(server.peersToSend(numWant: announce.numWant < 0 ? nil : Int(announce.numWant)), UDPTrackerCodec.maxReplyPeers)
            let width = if case .v6 = ip { 18 } else { 6 }
            reply.reserveCapacity(20 + width * numWant)
            let headAt = reply.writerIndex
            reply.moveWriterIndex(forwardBy: 20)
            let now = server.now
            // A peer that gives port 0 cannot be reached: it is answered, not recorded.
            let answer = server.registry.withLock { registry in
                registry.announce(announce.infoHash, from: TrackedPeer(ip, port: announce.port), left: announce.left, event: announce.event,
                                  now: now, numWant: numWant, record: announce.port != 0, into: &reply)
            }
            guard let counts = answer else { return refuse(transaction, "the tracker is full", requestLength: .max, to: sender, context) }
            server.counters.udpAnnounces.add(1, ordering: .relaxed)
            let end = reply.writerIndex
            reply.moveWriterIndex(to: headAt)
            UDPTrackerCodec.writeAnnounceReplyHead(transaction: transaction, interval: UInt32(clamping: server.configuration.interval),
                                                   leechers: UInt32(clamping: counts.leechers), seeders: UInt32(clamping: counts.seeders),
                                                   into: &reply)
            reply.moveWriterIndex(to: end)
        case .malformed(let transaction, let reason):
            return refuse(transaction, reason, requestLength: envelope.data.readableBytes, to: sender, context)
        case .scrape(let connectionID, let transaction, let hashes):
            guard server.acceptsConnectionID(connectionID, from: sender) else {
                return refuse(transaction, "connection id expired; connect again", requestLength: envelope.data.readableBytes, to: sender, context)
            }
            server.counters.udpScrapes.add(1, ordering: .relaxed)
            let counts = server.counts(for: hashes).map { $0 ?? ScrapeCounts(seeders: 0, leechers: 0, completed: 0) }
            UDPTrackerCodec.writeScrapeReply(transaction: transaction, counts: counts, into: &reply)
        }
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: sender, data: reply)), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A datagram socket reports ICMP errors of earlier replies here; they concern one client, not the tracker.
    }

    /// An error packet, never longer than `requestLength` bytes.
    private func refuse(_ transaction: UInt32, _ message: String, requestLength: Int, to sender: SocketAddress, _ context: ChannelHandlerContext) {
        server.counters.refused.add(1, ordering: .relaxed)
        var reply = context.channel.allocator.buffer(capacity: 8 + message.utf8.count)
        UDPTrackerCodec.writeError(transaction: transaction, message: message, maxLength: requestLength, into: &reply)
        context.write(wrapOutboundOut(AddressedEnvelope(remoteAddress: sender, data: reply)), promise: nil)
    }
}
