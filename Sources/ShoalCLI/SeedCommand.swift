import ArgumentParser
import Foundation
import Shoal

struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Verify a torrent's data, then upload it to peers that connect (and to those given with --peer).",
        discussion: "Runs until interrupted. Prints 'listening on port N' once it accepts connections."
    )

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Argument(help: "The folder that holds the torrent's top-level file or folder.")
    var directory: String

    @Option(help: "The port to listen on (0 picks a free one).")
    var port: Int = 6881

    @Option(name: .customLong("peer"), help: "A peer to connect out to, as HOST:PORT; repeat for more.")
    var peers: [String] = []

    func run() async throws {
        let torrent = try loadTorrent(self.torrent)
        let addresses = try parsePeers(peers)
        let info = torrent.info
        let storage = PieceStorage(layout: StorageLayout(info), backend: FileStorage(root: directory, files: info.files))
        let have = try await checkExistingData(torrent, storage, label: "verify").good
        FileHandle.standardError.write(Data("seeding \(have.setCount) of \(info.pieceCount) pieces\n".utf8))

        let seeder = TorrentSeeder(torrent: torrent, storage: storage, have: have)
        guard let ours = seeder.handshake else { throw Terminal.badInput("the torrent has no info-hash") }
        let listener: PeerListener
        do { listener = try await PeerListener.bind(port: port) } catch {
            Terminal.error("cannot listen on port \(port): \(error)")
            throw ExitCode.failure
        }
        // Written straight to the descriptor: scripts wait for this line, and stdout may be a buffered pipe.
        FileHandle.standardOutput.write(Data("listening on port \(listener.port)\n".utf8))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await listener.serve(answer: { $0.infoHash == ours.infoHash ? ours : nil }) { link, name in
                    Self.log("peer \(name) connected" + (link.remote.peerID.azureusClient.map { " (\($0))" } ?? ""))
                    do { try await seeder.serve(link) } catch { Self.log("peer \(name) left: \(error)") }
                }
            }
            for peer in addresses {
                group.addTask {
                    do {
                        try await PeerConnector.withConnection(host: peer.host, port: peer.port, handshake: ours) { link in
                            try await seeder.serve(link)
                        }
                    } catch {
                        Self.log("peer \(peer.host):\(peer.port): \(error)")
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    static func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// `HOST:PORT` arguments (IPv6 hosts in brackets) into addresses; anything else is bad input.
func parsePeers(_ texts: [String]) throws(ExitCode) -> [(host: String, port: Int)] {
    try texts.map { text throws(ExitCode) -> (host: String, port: Int) in
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw Terminal.badInput("--peer takes HOST:PORT, not '\(text)'")
        }
        return (String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }
}
