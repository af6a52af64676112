import ArgumentParser
import Foundation
import Shoal

struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show what a torrent file or magnet link describes."
    )

    @Argument(help: "A .torrent file or a magnet link.")
    var source: String

    @Flag(help: "Print one JSON object (name, totalSize, pieceLength, pieceCount, infoHashV1, infoHashV2, private, files, trackers, webSeeds, magnet).")
    var json = false

    @Flag(help: "For a magnet link: fetch its metadata from peers (its x.pe and trackers, and --peer) and show the whole torrent.")
    var fetch = false

    @Option(name: .customLong("peer"), help: "With --fetch: a peer to ask, as HOST:PORT; repeat for more.")
    var peers: [String] = []

    @Option(help: "With --fetch: the port to accept peers on (0 picks a free one).")
    var port: Int = 0

    @Flag(help: "With --fetch: announce to no tracker.")
    var noTrackers = false

    @OptionGroup(title: "With --fetch") var dhtOptions: DHTOptions

    func run() async throws {
        var source = try loadSource(self.source)
        if fetch {
            guard case .magnet(let magnet) = source else { throw Terminal.badInput("--fetch is for magnet links; a torrent file holds its metadata") }
            var settings = SessionSettings()
            settings.listenPort = port
            settings.trackers.enabled = !noTrackers
            settings.discovery.dht = !dhtOptions.noDHT
            let node = try await Node.start(settings: settings, serveTracker: nil, listeningRequired: false, reportPort: false, dht: dhtOptions)
            let announces = settings.trackers.enabled && !magnet.trackers.isEmpty
            let fetched = try await fetchMetadata(magnet, node: node, peers: try parsePeers(peers),
                                                  stopWhenPeersRunOut: !announces && !node.discovers)
            await node.close()
            source = .torrent(fetched.torrent)
        }
        let summary = TorrentSummary(source)
        if json {
            try printJSON(summary)
        } else {
            print(summary.text)
        }
    }
}

/// The facts `shoal info` shows; unknown ones (for a magnet link) are nil and print as JSON null.
struct TorrentSummary: Encodable {
    struct File: Encodable {
        var path: String
        var length: Int64
        var padding: Bool
    }

    var name: String?
    var totalSize: Int64?
    var pieceLength: Int?
    var pieceCount: Int?
    var infoHashV1: String?
    var infoHashV2: String?
    var isPrivate: Bool?
    var files: [File]?
    var trackers: [[String]]
    var webSeeds: [String]
    var magnet: String
    var version: TorrentVersion?

    init(_ source: TorrentSource) {
        switch source {
        case .torrent(let torrent):
            let info = torrent.info
            name = info.name
            totalSize = info.totalSize
            pieceLength = info.pieceLength
            pieceCount = info.pieceCount
            infoHashV1 = info.infoHashes.v1?.hex
            infoHashV2 = info.infoHashes.v2?.hex
            isPrivate = info.isPrivate
            files = info.files.map { File(path: $0.path.joined(separator: "/"), length: $0.length, padding: $0.isPadding) }
            trackers = torrent.trackers
            webSeeds = torrent.webSeeds
            magnet = torrent.magnetLink.description
            version = info.version
        case .magnet(let link):
            name = link.displayName
            totalSize = link.exactLength
            infoHashV1 = link.infoHashes.v1?.hex
            infoHashV2 = link.infoHashes.v2?.hex
            trackers = link.trackers.map { [$0] }
            webSeeds = link.webSeeds
            magnet = link.description
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, totalSize, pieceLength, pieceCount, infoHashV1, infoHashV2, isPrivate = "private", files, trackers, webSeeds, magnet
    }

    /// Every key, null included: scripts rely on the set of keys.
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(totalSize, forKey: .totalSize)
        try container.encode(pieceLength, forKey: .pieceLength)
        try container.encode(pieceCount, forKey: .pieceCount)
        try container.encode(infoHashV1, forKey: .infoHashV1)
        try container.encode(infoHashV2, forKey: .infoHashV2)
        try container.encode(isPrivate, forKey: .isPrivate)
        try container.encode(files, forKey: .files)
        try container.encode(trackers, forKey: .trackers)
        try container.encode(webSeeds, forKey: .webSeeds)
        try container.encode(magnet, forKey: .magnet)
    }

    var text: String {
        var lines: [String] = []
        func add(_ label: String, _ value: String?) { lines.append(label.padding(toLength: 12, withPad: " ", startingAt: 0) + (value ?? "unknown")) }
        add("Name:", name)
        add("Version:", version?.rawValue)
        add("Size:", totalSize.map { "\(formatBytes($0)) (\($0) bytes)" })
        add("Pieces:", pieceCount.map { count in "\(count) × \(pieceLength.map { formatBytes(Int64($0)) } ?? "?")" })
        add("Private:", isPrivate.map { $0 ? "yes" : "no" })
        if let infoHashV1 { add("Hash v1:", infoHashV1) }
        if let infoHashV2 { add("Hash v2:", infoHashV2) }
        for (i, tier) in trackers.enumerated() { add(i == 0 ? "Trackers:" : "", tier.joined(separator: "  ")) }
        for (i, seed) in webSeeds.enumerated() { add(i == 0 ? "Web seeds:" : "", seed) }
        if let files {
            let shown = files.filter { !$0.padding }
            lines.append("Files (\(shown.count)):")
            for file in shown { lines.append("  \(file.path)  (\(formatBytes(file.length)))") }
        }
        add("Magnet:", magnet)
        return lines.joined(separator: "\n")
    }
}
