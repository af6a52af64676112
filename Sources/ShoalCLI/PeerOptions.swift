#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import Shoal

/// The options `download` and `seed` share: where to listen, whom to reach, and the user's limits.
struct PeerOptions: ParsableArguments {
    @Option(help: "The port to accept peers on (0 picks a free one).")
    var port: Int = 6881

    @Option(name: .customLong("peer"), help: "A peer to connect to, as HOST:PORT; repeat for more.")
    var peers: [String] = []

    @Option(help: "The most peers to be connected to at once.")
    var maxPeers: Int = 50

    @Option(help: "How many peers to upload to at once.")
    var uploadSlots: Int = 8

    @Option(help: "Download limit in bytes per second, with k, M or G for KiB, MiB, GiB (500k, 10M); 0 for none.")
    var downRate: String?

    @Option(help: "Upload limit, as --down-rate.")
    var upRate: String?

    @Option(help: "A file of IP ranges never to connect to or accept (PeerGuardian P2P or eMule DAT format).")
    var blockList: String?

    @Option(help: "A file of IP ranges: connect to and accept only these (same formats).")
    var allowList: String?

    @Option(name: .customLong("tracker"), help: "A tracker to announce to besides the torrent's own (an http, https or udp URL); repeat for more.")
    var trackers: [String] = []

    @Flag(help: "Announce to no tracker, not even the torrent's own.")
    var noTrackers = false

    @Flag(help: "Exchange no peers with connected peers (BEP 11 peer exchange). Private torrents never do.")
    var noPex = false

    @OptionGroup var dhtOptions: DHTOptions

    @Flag(help: "Do not announce torrents on the local network or listen for such announces (BEP 14 local service discovery).")
    var noLsd = false

    @Option(help: "An interface for local service discovery, by name (default: every multicast interface); repeat for more.")
    var lsdInterface: [String] = []

    /// Local discovery as the options ask: nil when it is off.
    var localDiscovery: LocalDiscovery.Configuration? {
        noLsd ? nil : LocalDiscovery.Configuration(interfaces: lsdInterface.isEmpty ? nil : lsdInterface)
    }

    @Option(help: "Seconds an HTTP announce may take, and the first wait for a UDP tracker's answer (doubled for each of 4 sends).")
    var trackerTimeout: Double = 15

    @Option(help: "Also run a tracker in this process, HTTP and UDP on this port (0 picks one), as 'shoal tracker' does.")
    var serveTracker: Int?

    /// The trackers given with --tracker, checked; any that Shoal cannot talk to is bad input.
    func extraTrackers() throws(ExitCode) -> [String] {
        for url in trackers {
            do { _ = try TrackerURL(url) } catch { throw Terminal.badInput("--tracker: \(error)") }
        }
        return trackers
    }

    /// The session settings these options ask for; unusable values are bad input (exit 2).
    func settings(seeding: Bool) throws(ExitCode) -> SessionSettings {
        var settings = SessionSettings()
        settings.listenPort = port
        settings.connections.maxPerTorrent = maxPeers
        settings.connections.maxTotal = max(maxPeers, settings.connections.maxTotal)
        settings.uploadSlots = uploadSlots
        settings.seeding = seeding
        settings.rates.download = try downRate.flatMap { rate throws(ExitCode) in try parseRate(rate, option: "--down-rate") }
        settings.rates.upload = try upRate.flatMap { rate throws(ExitCode) in try parseRate(rate, option: "--up-rate") }
        guard trackerTimeout > 0, trackerTimeout <= 3600 else { throw Terminal.badInput("--tracker-timeout takes 0 to 3600 seconds") }
        settings.trackers.enabled = !noTrackers
        settings.discovery.peerExchange = !noPex
        settings.discovery.localDiscovery = !noLsd
        settings.discovery.dht = !dhtOptions.noDHT
        settings.trackers.timeout = .milliseconds(Int(trackerTimeout * 1000))
        if let blockList { settings.peers.blocked = try loadFilter(blockList, option: "--block-list") }
        if let allowList { settings.peers.allowedOnly = try loadFilter(allowList, option: "--allow-list") }
        do { return try settings.validated() } catch { throw Terminal.badInput("\(error)") }
    }

    private func loadFilter(_ path: String, option: String) throws(ExitCode) -> IPFilter {
        let bytes: [UInt8]
        do { bytes = try readBoundedFile(path, limit: 256 << 20) } catch { throw Terminal.badInput("\(option) '\(path)': \(error)") }
        let (filter, report) = IPFilter.parse(String(decoding: bytes, as: UTF8.self))
        if !report.badLines.isEmpty {
            Terminal.warning("\(option) '\(path)': skipped unreadable lines \(report.badLines.prefix(10).map(String.init).joined(separator: ", "))")
        }
        if filter.isEmpty, option == "--allow-list" { throw Terminal.badInput("\(option) '\(path)' holds no address range") }
        return filter
    }
}

/// A rate as people write it: `500k` is 500 KiB/s, `10M` 10 MiB/s, a bare number bytes per second; nil for 0
/// (no limit).
func parseRate(_ text: String, option: String) throws(ExitCode) -> Int? {
    var digits = text.trimmingCharacters(in: .whitespaces)
    var multiplier = 1.0
    for suffix in ["ib/s", "b/s", "ib", "b", "/s"] where digits.lowercased().hasSuffix(suffix) {
        digits.removeLast(suffix.count)
        break
    }
    if let unit = digits.last?.lowercased(), let power = ["k": 1, "m": 2, "g": 3][unit] {
        multiplier = pow(1024, Double(power))
        digits.removeLast()
    }
    guard let value = Double(digits), value >= 0, value * multiplier < Double(Int.max / 2) else {
        throw Terminal.badInput("\(option) takes a rate such as 500k or 10M, not '\(text)'")
    }
    let bytes = Int(value * multiplier)
    return bytes == 0 ? nil : bytes
}

/// `HOST:PORT` arguments (IPv6 hosts in brackets, names looked up) into addresses; anything else is bad input.
func parsePeers(_ texts: [String], option: String = "--peer") throws(ExitCode) -> [(host: String, port: Int)] {
    try texts.map { text throws(ExitCode) -> (host: String, port: Int) in
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw Terminal.badInput("\(option) takes HOST:PORT, not '\(text)'")
        }
        let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if IPAddress(host) != nil { return (host, port) }
        guard let address = resolve(host) else { throw Terminal.badInput("\(option) '\(text)': cannot resolve '\(host)'") }
        return (address, port)
    }
}

/// The first address `host` resolves to, as text.
private func resolve(_ host: String) -> String? {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
    defer { freeaddrinfo(list) }
    var name = [CChar](repeating: 0, count: Int(NI_MAXHOST))
    guard getnameinfo(first.pointee.ai_addr, first.pointee.ai_addrlen, &name, socklen_t(name.count), nil, 0, NI_NUMERICHOST) == 0 else {
        return nil
    }
    return String(cString: name)
}
