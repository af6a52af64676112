#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Metainfo
import NIOCore
import NIOPosix
import NIOSupport
import Synchronization

/// Local service discovery (BEP 14) over SwiftNIO: listens on the multicast groups for announces from peers
/// on the local network, and sends ours on every chosen interface.
///
/// What to announce and when is the caller's: ``announce(_:port:)`` sends at once. Incoming announces are
/// bounded per source address and overall, and our own (recognised by a cookie) are dropped.
public final class LocalDiscovery: Sendable {
    /// Where and how discovery runs.
    public struct Configuration: Sendable {
        /// Interfaces to use, by name; nil uses every interface that takes multicast and has an address. A named
        /// interface is used even without the multicast flag: Linux delivers multicast on `lo` between sockets
        /// that joined the group there (libtorrent does so too), which is how tests run it on loopback.
        public var interfaces: [String]?
        /// Also use the IPv6 group.
        public var ipv6 = true
        /// Announces accepted from one address a minute; more are dropped.
        public var perSourcePerMinute = 12
        /// Announces accepted a second from everyone together.
        public var perSecond = 50

        public init(interfaces: [String]? = nil) { self.interfaces = interfaces }
    }

    /// Counters since the start.
    public struct Statistics: Sendable, Hashable {
        public var received = 0
        /// Malformed, over a rate limit, or our own.
        public var dropped = 0
        public var sent = 0
    }

    private let configuration: Configuration
    private let receivers: [any Channel]
    /// One socket per interface and family, its multicast interface set to it.
    private let senders: [(channel: any Channel, group: SocketAddress, host: String)]
    private let state: Mutex<State>
    /// Sent in each announce so ours coming back are dropped.
    let cookie: String

    private struct State {
        var statistics = Statistics()
        var limit: ArrivalLimiter
    }

    private init(configuration: Configuration, receivers: [any Channel], senders: [(channel: any Channel, group: SocketAddress, host: String)],
                 cookie: String) {
        self.configuration = configuration
        self.receivers = receivers
        self.senders = senders
        self.cookie = cookie
        state = Mutex(State(limit: ArrivalLimiter(perSource: configuration.perSourcePerMinute, per: .seconds(60),
                                                  perSecond: configuration.perSecond)))
    }

    /// Why discovery could not start.
    public struct StartError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Joins the groups on the chosen interfaces and starts listening; `onAnnounce` gets each accepted announce
    /// with its sender's address (on an event loop: keep it short).
    public static func start(_ configuration: Configuration = Configuration(),
                             group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                             onAnnounce: @escaping @Sendable (LocalAnnounce, IPAddress) -> Void) async throws -> LocalDiscovery {
        // The system lists an interface once per address: keep one per interface and family.
        var seen = Set<String>()
        let devices = try System.enumerateDevices().filter { device in
            guard let address = device.address else { return false }
            if let names = configuration.interfaces {
                guard names.contains(device.name) else { return false }
            } else if !device.multicastSupported {
                return false
            }
            switch address {
            case .v4: return seen.insert("4 " + device.name).inserted
            case .v6: return configuration.ipv6 && seen.insert("6 " + device.name).inserted
            case .unixDomainSocket: return false
            }
        }
        guard !devices.isEmpty else {
            throw StartError(description: "no multicast interface" + (configuration.interfaces.map { " among \($0.joined(separator: ", "))" } ?? ""))
        }
        let cookie = String(UInt64.random(in: .min ... .max), radix: 36)
        let box = LateReference<LocalDiscovery>()
        let handler = { @Sendable (bytes: ByteBuffer, from: SocketAddress) -> Void in
            box.target?.received(bytes, from: from, onAnnounce: onAnnounce)
        }
        var receivers: [any Channel] = []
        var senders: [(channel: any Channel, group: SocketAddress, host: String)] = []
        do {
            for (family, host, any) in [(true, LocalAnnounce.groupV4, "0.0.0.0"), (false, LocalAnnounce.groupV6, "::")] {
                let familyDevices = devices.filter { $0.address.map { if case .v4 = $0 { family } else { !family } } ?? false }
                guard !familyDevices.isEmpty else { continue }
                let groupAddress = try SocketAddress(ipAddress: host, port: LocalAnnounce.groupPort)
                // Other clients on this machine listen on the same port: reuse it.
                var bootstrap = DatagramBootstrap(group: group)
                // The IPv6 socket takes IPv6 only, or IPv4 announces would arrive twice.
                if !family { bootstrap = bootstrap.channelOption(.ipv6Only, value: 1) }
                let receiver = try await bootstrap
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelOption(.socketOption(NIOBSDSocket.Option(rawValue: SO_REUSEPORT)), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DatagramReader(handler)) }
                    }
                    .bind(host: any, port: LocalAnnounce.groupPort).outcome()
                receivers.append(receiver)
                guard let multicast = receiver as? any MulticastChannel, let receiverOptions = receiver as? any SocketOptionProvider else {
                    throw StartError(description: "no multicast on this platform")
                }
                // An interface that cannot join (no IPv6 multicast on `lo`, say) is left out; discovery runs on the others.
                for device in familyDevices {
                    guard (try? await join(groupAddress, on: device, multicast: multicast, options: receiverOptions)) != nil else { continue }
                    let sender = try await DatagramBootstrap(group: group).bind(to: Self.anyPort(of: device)).outcome()
                    senders.append((sender, groupAddress, host))
                    guard let options = sender as? any SocketOptionProvider else { continue }
                    switch device.address {
                    case .v4(let v4)?: try await options.setIPMulticastIF(v4.address.sin_addr).outcome()
                    default: try await options.setIPv6MulticastIF(CUnsignedInt(device.interfaceIndex)).outcome()
                    }
                }
            }
        } catch {
            for channel in receivers + senders.map(\.channel) { channel.close(promise: nil) }
            throw error
        }
        guard !senders.isEmpty else {
            for channel in receivers { channel.close(promise: nil) }
            throw StartError(description: "no interface could join the discovery groups")
        }
        let discovery = LocalDiscovery(configuration: configuration, receivers: receivers, senders: senders, cookie: cookie)
        box.target = discovery
        return discovery
    }

    /// Joins the group on one interface. IPv4 by hand: SwiftNIO refuses interfaces without the multicast flag,
    /// and `lo` has none, though Linux delivers multicast on it.
    private static func join(_ group: SocketAddress, on device: NIONetworkDevice, multicast: any MulticastChannel,
                             options: any SocketOptionProvider) async throws {
        guard case .v4(let interface)? = device.address, case .v4(let groupV4) = group else {
            return try await multicast.joinGroup(group, device: device).outcome()
        }
        let request = ip_mreq(imr_multiaddr: groupV4.address.sin_addr, imr_interface: interface.address.sin_addr)
        try await options.unsafeSetSocketOption(level: .ip, name: .ip_add_membership, value: request).outcome()
    }

    /// The device's address with port 0, to send from.
    private static func anyPort(of device: NIONetworkDevice) throws -> SocketAddress {
        guard var address = device.address else { throw StartError(description: "interface \(device.name) has no address") }
        address.port = 0
        return address
    }

    /// Sends one announce of these torrents on every interface (callers keep to BEP 14's rate: one a minute,
    /// each torrent every 5 minutes). At most ``LocalAnnounce/maxInfoHashes`` are sent; the rest wait.
    public func announce(_ infoHashes: [SHA1Hash], port: UInt16) {
        guard !infoHashes.isEmpty else { return }
        let announce = LocalAnnounce(port: port, infoHashes: Array(infoHashes.prefix(LocalAnnounce.maxInfoHashes)), cookie: cookie)
        for sender in senders {
            let bytes = ByteBuffer(bytes: announce.encoded(host: sender.host))
            sender.channel.writeAndFlush(AddressedEnvelope(remoteAddress: sender.group, data: bytes), promise: nil)
        }
        state.withLock { $0.statistics.sent += senders.count }
    }

    public var statistics: Statistics { state.withLock { $0.statistics } }

    /// Stops listening and sending.
    public func close() {
        for channel in receivers + senders.map(\.channel) { channel.close(promise: nil) }
    }

    private func received(_ bytes: ByteBuffer, from source: SocketAddress, onAnnounce: (LocalAnnounce, IPAddress) -> Void) {
        let now = ContinuousClock.now
        let announce = try? LocalAnnounce(parsing: bytes.readableBytesView)
        let accepted = state.withLock { state -> IPAddress? in
            state.statistics.received += 1
            // Local discovery is local: an announce from a public address came by unicast from afar, not by multicast.
            guard let announce, announce.cookie != cookie, let ip = source.ip, ip.isLocalNetwork, state.limit.admit(ip, now: now) else {
                state.statistics.dropped += 1
                return nil
            }
            return ip
        }
        if let announce, let accepted { onAnnounce(announce, accepted) }
    }
}
