import ArgumentParser
import Foundation
import Shoal

struct TrackerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tracker",
        abstract: "Run a BitTorrent tracker: HTTP and UDP announce and scrape, with statistics at /stats.",
        discussion: """
            Without --http or --udp, both listen on port 6969; with one of them, only that one. Prints \
            'http tracker on port N' and 'udp tracker on port N' once listening, and runs until Ctrl-C or SIGTERM \
            (exit 0). Swarms live in memory only.
            """
    )

    @Option(help: "The TCP port for HTTP announces, scrapes and /stats (0 picks a free one).")
    var http: Int?

    @Option(help: "The UDP port for BEP 15 announces and scrapes (0 picks a free one).")
    var udp: Int?

    @Option(help: "The address to listen on (default: every IPv6 and IPv4 address).")
    var host: String?

    @Option(help: "A file of the only info-hashes to serve, one hex info-hash per line (as opentracker's -w).")
    var allowList: String?

    @Option(help: "Seconds between announces asked of clients.")
    var interval: Int = 1800

    @Option(help: "The most peers kept per torrent.")
    var maxPeersPerSwarm: Int = 100_000

    @Option(help: "The most torrents kept.")
    var maxSwarms: Int = 1_000_000

    func run() async throws {
        let server = TrackerServer(configuration: try configuration())
        let (httpPort, udpPort) = http == nil && udp == nil ? (6969, 6969) : (http, udp)
        do {
            try await startTracker(server, host: host, httpPort: httpPort, udpPort: udpPort)
        } catch {
            server.close()
            throw error
        }
        let stopped = AsyncStream<Void>.makeStream()
        let watch = SignalWatch { stopped.continuation.finish() }
        for await _ in stopped.stream {}
        _ = watch.cancel()
        server.close()
        let stats = server.statistics
        FileHandle.standardError.write(Data("""
            answered \(stats.udpAnnounces) UDP and \(stats.httpAnnounces) HTTP announces, \
            \(stats.udpScrapes + stats.httpScrapes) scrapes; refused \(stats.refused)\n
            """.utf8))
    }

    /// The tracker's settings from the options; unusable values are bad input.
    private func configuration() throws(ExitCode) -> TrackerServer.Configuration {
        var configuration = TrackerServer.Configuration()
        guard (10...86_400).contains(interval) else { throw Terminal.badInput("--interval takes 10 to 86400 seconds, not \(interval)") }
        guard maxPeersPerSwarm > 0, maxSwarms > 0 else { throw Terminal.badInput("--max-peers-per-swarm and --max-swarms must be positive") }
        configuration.interval = interval
        configuration.minInterval = min(60, interval)
        configuration.maxPeersPerSwarm = maxPeersPerSwarm
        configuration.maxSwarms = maxSwarms
        if let allowList {
            let bytes: [UInt8]
            do { bytes = try readBoundedFile(allowList, limit: 256 << 20) } catch { throw Terminal.badInput("--allow-list '\(allowList)': \(error)") }
            let (hashes, badLines) = AllowList.parse(String(decoding: bytes, as: UTF8.self))
            if !badLines.isEmpty {
                throw Terminal.badInput("--allow-list '\(allowList)': lines \(badLines.prefix(10).map(String.init).joined(separator: ", ")) hold no info-hash")
            }
            configuration.allowList = hashes
        }
        return configuration
    }
}

/// Starts the tracker's listeners and prints their ports (straight to the descriptor: scripts wait for these
/// lines, and stdout may be a buffered pipe). A port that cannot be bound ends the command.
func startTracker(_ server: TrackerServer, host: String?, httpPort: Int?, udpPort: Int?) async throws(ExitCode) {
    let listeners: [(name: String, port: Int?, listen: (String?, Int) async throws -> Int)] = [
        ("http", httpPort, server.listenHTTP(host:port:)), ("udp", udpPort, server.listenUDP(host:port:)),
    ]
    for listener in listeners {
        guard let port = listener.port else { continue }
        guard (0...65535).contains(port) else { throw Terminal.badInput("a tracker port is 0 to 65535, not \(port)") }
        do {
            let bound = try await listener.listen(host, port)
            FileHandle.standardOutput.write(Data("\(listener.name) tracker on port \(bound)\n".utf8))
        } catch {
            Terminal.error("cannot listen for \(listener.name.uppercased()) on port \(port): \(error)")
            throw ExitCode.failure
        }
    }
}
