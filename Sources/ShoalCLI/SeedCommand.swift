import ArgumentParser
import Foundation
import Shoal

struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Verify a torrent's data, then upload it to peers that connect (and to those given with --peer).",
        discussion: """
            Announces to every tracker of the torrent and those given with --tracker. Runs until interrupted (Ctrl-C \
            or SIGTERM, exit 0). Prints 'listening on port N' once it accepts connections.
            """
    )

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Argument(help: "The folder that holds the torrent's top-level file or folder.")
    var directory: String

    @OptionGroup var peerOptions: PeerOptions

    func run() async throws {
        let torrent = try loadTorrent(self.torrent)
        let settings = try peerOptions.settings(seeding: true)
        let info = torrent.info
        let storage = PieceStorage(layout: StorageLayout(info), backend: FileStorage(root: directory, files: info.files))
        let have = try await checkExistingData(torrent, storage, label: "verify").good
        FileHandle.standardError.write(Data("seeding \(have.setCount) of \(info.pieceCount) pieces\n".utf8))
        // Seeding uploads what is there and fetches nothing.
        var options = TorrentOptions()
        options.filePriorities = [PiecePriority](repeating: .skip, count: info.files.count)
        options.extraTrackers = try peerOptions.extraTrackers()
        let peers = try parsePeers(peerOptions.peers)
        let node = try await Node.start(settings: settings, serveTracker: peerOptions.serveTracker, listeningRequired: true,
                                        localDiscovery: peerOptions.localDiscovery, dht: peerOptions.dhtOptions)
        let runner = TorrentRunner(metainfo: torrent, storage: storage, options: options, peers: peers, finishedMessage: nil)
        let stats = try await runner.run(on: node, verified: have).stats
        await node.close()
        var summary = "uploaded \(formatBytes(stats.uploaded))"
        if stats.hashRequestsAnswered + stats.hashRequestsRefused > 0 {
            summary += "; answered \(stats.hashRequestsAnswered) hash requests, refused \(stats.hashRequestsRefused)"
        }
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }
}
