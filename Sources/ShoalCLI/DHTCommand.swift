import ArgumentParser
import Foundation
import Shoal

struct DHTCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dht",
        abstract: "Run a DHT node alone (BEP 5): join the network, answer other nodes, and print the routing table's size and the traffic.",
        discussion: """
            Prints 'dht node ID on port N' once the node answers, then a line every --interval seconds. Runs until \
            interrupted (Ctrl-C or SIGTERM); the routing table is saved for the next start.
            """
    )

    @Option(help: "The UDP port (0 picks a free one).")
    var port: Int = 6881

    @Option(help: "Bind this address only (such as 127.0.0.1), rather than every IPv4 and IPv6 address.")
    var host: String?

    @Option(help: "Seconds between status lines.")
    var interval: Double = 10

    @Option(help: "IP addresses may each hold this many places in the routing table (1 by default; more for tests on one machine).")
    var nodesPerAddress: Int = 1

    @OptionGroup var dhtOptions: DHTOptions

    func run() async throws {
        guard (0...65535).contains(port) else { throw Terminal.badInput("--port takes 0 to 65535") }
        guard interval > 0, interval <= 3600, nodesPerAddress > 0 else {
            throw Terminal.badInput("--interval takes 0 to 3600 seconds, and --nodes-per-address a positive number")
        }
        var configuration = DHTNode.Configuration()
        configuration.readOnly = dhtOptions.readOnly
        configuration.table.maxNodesPerIP = nodesPerAddress
        let service: DHTService
        do {
            service = try await DHTService.start(host: host, port: port, state: loadDHTState(from: dhtOptions.stateFile),
                                                 configuration: configuration) { _ in }
        } catch {
            Terminal.error("cannot start the DHT node on port \(port): \(error)")
            throw ExitCode.failure
        }
        FileHandle.standardOutput.write(Data("dht node \(service.id.hex) on port \(service.port)\n".utf8))
        service.bootstrap(from: try dhtOptions.bootstrapNodes())
        let stop = SignalWatch {}
        var last = service.statistics
        let started = ContinuousClock.now
        while stop.received == nil {
            try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            let now = service.statistics
            let counts = service.nodeCounts
            let seconds = interval
            let line = String(format: "%6.0f s  nodes %d (IPv4 %d, IPv6 %d)  in %.1f/s %@/s  out %.1f/s %@/s  dropped %d",
                              (ContinuousClock.now - started) / .seconds(1), counts.values.reduce(0, +), counts[.v4] ?? 0, counts[.v6] ?? 0,
                              Double(now.datagramsIn - last.datagramsIn) / seconds, formatBytes(Int64(Double(now.bytesIn - last.bytesIn) / seconds)),
                              Double(now.datagramsOut - last.datagramsOut) / seconds, formatBytes(Int64(Double(now.bytesOut - last.bytesOut) / seconds)),
                              now.malformed + now.unsolicited + now.rateLimited)
            FileHandle.standardError.write(Data((line + "\n").utf8))
            last = now
        }
        _ = stop.cancel()
        saveDHTState(service, to: dhtOptions.stateFile)
        service.close()
    }
}
