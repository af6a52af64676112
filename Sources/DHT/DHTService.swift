#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Bencode
import Metainfo
import NIOCore
import NIOPosix
import NIOSupport
import Synchronization

/// A ``DHTNode`` on the network: UDP sockets (IPv4, and IPv6 where the machine has it) over SwiftNIO, and a clock
/// that ticks it ten times a second.
///
/// Datagrams are handed to the node on the event loop that read them, under one lock, and its answers written
/// from there; events go to the `onEvent` closure given at start (keep it short: it runs on an event loop).
public final class DHTService: Sendable {
    private let node: Mutex<DHTNode>
    private let channels: [AddressFamily: any Channel]
    private let onEvent: @Sendable (DHTNode.Event) -> Void
    private let clock = Mutex<Task<Void, Never>?>(nil)
    /// The UDP port the node answers on.
    public let port: Int
    /// The largest saved state read: two full tables (160 buckets of 8 nodes each) fit with room to spare.
    public static let maxStateSize = 128 * 1024

    private init(node: DHTNode, channels: [AddressFamily: any Channel], port: Int, onEvent: @escaping @Sendable (DHTNode.Event) -> Void) {
        self.node = Mutex(node)
        self.channels = channels
        self.port = port
        self.onEvent = onEvent
    }

    /// Binds UDP `port` (0 picks one) on `host`, or on every IPv4 and IPv6 address without one, and starts a
    /// node. Its id and routing table come from `state` (``state``'s bytes from an earlier run) when usable,
    /// else the id is random.
    public static func start(host: String? = nil, port: Int, state: [UInt8]? = nil,
                             configuration: DHTNode.Configuration = DHTNode.Configuration(),
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             onEvent: @escaping @Sendable (DHTNode.Event) -> Void) async throws -> DHTService {
        let box = LateReference<DHTService>()
        let reader = { @Sendable (bytes: ByteBuffer, from: SocketAddress) -> Void in box.target?.received(bytes, from: from) }
        func bind(_ host: String, _ port: Int, v6Only: Bool) async throws -> any Channel {
            var bootstrap = DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DatagramReader(reader)) }
                }
            if v6Only { bootstrap = bootstrap.channelOption(.ipv6Only, value: 1) }
            return try await bootstrap.bind(host: host, port: port).outcome()
        }
        var channels: [AddressFamily: any Channel] = [:]
        if let host {
            let channel = try await bind(host, port, v6Only: host.contains(":"))
            channels[host.contains(":") ? .v6 : .v4] = channel
        } else {
            let v4 = try await bind("0.0.0.0", port, v6Only: false)
            channels[.v4] = v4
            // IPv6 on the same port, where the machine has it.
            if let v6 = try? await bind("::", v4.localAddress?.port ?? port, v6Only: true) { channels[.v6] = v6 }
        }
        let bound = channels.values.first?.localAddress?.port ?? port
        let loaded = state.flatMap { Self.tables(from: $0, configuration: configuration.table) }
        var random = SystemRandomNumberGenerator()
        let id = loaded?.id ?? NodeID.random(using: &random)
        let node = DHTNode(id: id, families: Set(channels.keys), configuration: configuration, tables: loaded?.tables ?? [:],
                           now: .now, seed: random.next(), tokenSeed: random.next())
        let service = DHTService(node: node, channels: channels, port: bound, onEvent: onEvent)
        box.target = service
        service.clock.withLock { task in
            task = Task { [weak service] in
                while !Task.isCancelled, let service {
                    service.drive { $0.tick(now: .now) }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        return service
    }

    /// Joins the network through these nodes (and those of the saved table).
    public func bootstrap(from addresses: [PeerAddress]) {
        drive { $0.bootstrap(from: addresses, now: .now) }
    }

    /// Pings a node a peer named (BEP 5's `port` message), to add it to the table.
    public func addNode(_ address: PeerAddress) {
        drive { $0.addNode(address, now: .now) }
    }

    /// Looks for peers of `infoHash`, announcing us on `announcePort` if given; peers arrive as events.
    public func findPeers(_ infoHash: SHA1Hash, announcePort: UInt16?) -> Bool {
        var started = false
        drive { started = !$0.findPeers(infoHash, announcePort: announcePort, now: .now).isEmpty }
        return started
    }

    public var statistics: DHTNode.Statistics { node.withLock { $0.statistics } }

    /// Lookups running now.
    public var activeLookups: Int { node.withLock { $0.activeLookups } }

    /// Nodes in the routing tables, per family.
    public var nodeCounts: [AddressFamily: Int] { node.withLock { $0.tables.mapValues(\.count) } }

    public var id: NodeID { node.withLock { $0.id } }

    /// The routing tables as bytes to save and give to the next ``start(host:port:state:configuration:group:onEvent:)``.
    public var state: [UInt8] {
        node.withLock { node in
            var dictionary = BencodeDictionary()
            for (family, table) in node.tables { dictionary[family == .v4 ? "4" : "6"] = .string(table.encodeForPersistence()) }
            return BencodeValue.dictionary(dictionary).encoded()
        }
    }

    /// Stops the clock and closes the sockets.
    public func close() {
        clock.withLock { $0?.cancel() }
        for channel in channels.values { channel.close(promise: nil) }
    }

    /// The saved tables, if the bytes hold any usable one (all of one id).
    private static func tables(from bytes: [UInt8], configuration: RoutingTable.Configuration) -> (id: NodeID, tables: [AddressFamily: RoutingTable])? {
        let decoder = BencodeDecoder(limits: .init(maxInputSize: maxStateSize, maxStringLength: maxStateSize / 2, maxDepth: 2, maxElements: 8))
        guard let dictionary = (try? decoder.decode(bytes))?.dictionary else { return nil }
        var tables: [AddressFamily: RoutingTable] = [:]
        for (key, family) in [("4", AddressFamily.v4), ("6", .v6)] {
            if let saved = dictionary[key]?.bytes, let table = try? RoutingTable(persisted: saved, family: family, configuration: configuration) {
                tables[family] = table
            }
        }
        guard let id = tables[.v4]?.ownID ?? tables[.v6]?.ownID else { return nil }
        return (id, tables.filter { $0.value.ownID == id })
    }

    private func received(_ bytes: ByteBuffer, from source: SocketAddress) {
        guard let ip = source.ip, let port = source.port, let sourcePort = UInt16(exactly: port) else { return }
        let address = PeerAddress(ip: ip, port: sourcePort)
        drive { $0.receive(Array(bytes.readableBytesView), from: address, now: .now) }
    }

    /// Runs `step` on the node and sends what it produced.
    private func drive(_ step: (inout DHTNode) -> Void) {
        let (datagrams, events) = node.withLock { node in
            step(&node)
            return node.takeOutput()
        }
        for datagram in datagrams {
            let family = AddressFamily(datagram.address.ip)
            guard let channel = channels[family],
                  let address = try? SocketAddress(ipAddress: datagram.address.ip.unmapped.description, port: Int(datagram.address.port))
            else { continue }
            channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: datagram.bytes)), promise: nil)
        }
        for event in events { onEvent(event) }
    }
}
