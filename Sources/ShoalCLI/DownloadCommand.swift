import ArgumentParser
import Foundation
import Shoal

struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a torrent from the peers given with --peer (trackers, DHT and magnet links come later).",
        discussion: "Exit status: 0 when every piece is downloaded and verified, 1 if peers ran out first, 2 on unusable input."
    )

    @Argument(help: "A .torrent file.")
    var source: String

    @Option(name: .shortAndLong, help: "The download folder (default: the current folder).")
    var output: String = "."

    @Option(name: .customLong("peer"), help: "A peer to connect to, as HOST:PORT; repeat for more.")
    var peers: [String] = []

    func run() async throws {
        if source.lowercased().hasPrefix("magnet:") {
            throw Terminal.badInput("magnet links need metadata exchange (BEP 9), which Shoal does not have yet; use a .torrent file")
        }
        let torrent = try loadTorrent(source)
        let addresses = try parsePeers(peers)
        let info = torrent.info
        let backend = FileStorage(root: output, files: info.files)
        let storage = PieceStorage(layout: StorageLayout(info), backend: backend)

        // Data already on disk counts only once it verifies: a restart fetches just what is missing.
        let existing = try await checkExistingData(torrent, storage, label: "checking")

        let download = TorrentDownload(torrent: torrent, storage: storage, verified: existing.good)
        let reporter = Task {
            var fetched = 0
            for await event in download.eventStream {
                if case .pieceVerified = event { fetched += 1 }
                report(event)
            }
            return fetched
        }
        let verified = await download.run(peers: addresses)
        let fetched = await reporter.value
        // Empty files hold no piece, so nothing above creates them.
        for (index, file) in info.files.enumerated() where file.length == 0 && !file.isPadding {
            try? backend.write(file: FileIndex(index), at: 0, from: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        print("\(verified.setCount) of \(info.pieceCount) pieces verified, \(fetched) downloaded")
        if !verified.isFull { throw ExitCode(1) }
    }

    private func report(_ event: DownloadEvent) {
        switch event {
        case .peerConnected(let peer, let client): log("connected to \(peer)" + (client.map { " (\($0))" } ?? ""))
        case .peerDisconnected(let peer, let reason): log("disconnected from \(peer): \(reason)")
        case .pieceVerified(_, let have, let total):
            if Terminal.isInteractive {
                FileHandle.standardError.write(Data(String(format: "\r%5.1f%%  %d/%d pieces ", Double(have) * 100 / Double(total), have, total).utf8))
            }
        case .pieceFailed(let piece): log("piece \(piece) failed its hash check; fetching it again")
        case .finished: log("download complete")
        }
    }

    private func log(_ line: String) {
        FileHandle.standardError.write(Data(((Terminal.isInteractive ? "\r" : "") + line + "\n").utf8))
    }
}
