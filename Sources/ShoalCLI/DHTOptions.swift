import ArgumentParser
import Foundation
import Shoal

/// The DHT options `download`, `seed` and `dht` share.
struct DHTOptions: ParsableArguments {
    @Flag(name: .customLong("no-dht"), help: "Do not run a DHT node: find peers through trackers, peer exchange and local discovery only.")
    var noDHT = false

    @Option(name: .customLong("dht-bootstrap"), help: "A DHT node to join through, as HOST:PORT; repeat for more. Replaces the usual public routers.")
    var bootstrap: [String] = []

    @Flag(name: .customLong("dht-read-only"), help: "Ask other nodes not to add this one and answer no queries (BEP 43), as behind a firewall.")
    var readOnly = false

    @Option(name: .customLong("dht-state"), help: "Where the DHT routing table is kept between runs (default: under $XDG_STATE_HOME/shoal).")
    var state: String?

    /// The routers most clients start from, used when no --dht-bootstrap is given.
    static let publicRouters = ["router.bittorrent.com:6881", "dht.transmissionbt.com:6881", "router.utorrent.com:6881",
                                "dht.libtorrent.org:25401"]

    /// The nodes to join through: those given (bad input if unusable), else the public routers that resolve.
    func bootstrapNodes() throws(ExitCode) -> [PeerAddress] {
        let nodes: [(host: String, port: Int)]
        if bootstrap.isEmpty {
            nodes = Self.publicRouters.compactMap { try? parsePeers([$0], option: "--dht-bootstrap").first }
        } else {
            nodes = try parsePeers(bootstrap, option: "--dht-bootstrap")
        }
        return nodes.compactMap { node in IPAddress(node.host).flatMap { ip in UInt16(exactly: node.port).map { PeerAddress(ip: ip, port: $0) } } }
    }

    /// The file for the routing table.
    var stateFile: String? { state ?? stateDirectory().map { "\($0)/shoal/dht.state" } }
}

/// `$XDG_STATE_HOME`, or `~/.local/state`: where Shoal keeps what it learns between runs.
func stateDirectory() -> String? {
    let environment = ProcessInfo.processInfo.environment
    return environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["HOME"].map { $0 + "/.local/state" }
}

/// Saves the DHT routing table, creating its folder; a failure is only a warning.
func saveDHTState(_ service: DHTService, to path: String?) {
    guard let path else { return }
    do {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(service.state).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        Terminal.warning("cannot save the DHT routing table to \(path): \(error)")
    }
}

/// The saved routing table, if there is a readable one.
func loadDHTState(from path: String?) -> [UInt8]? {
    path.flatMap { try? readBoundedFile($0, limit: DHTService.maxStateSize) }
}
