import ArgumentParser
import Foundation
import Shoal

struct DownloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a torrent (a file, an http(s) URL of one, or a magnet link) from the peers its trackers name, those given with --peer, and those that connect in.",
        discussion: """
            Announces to every tracker of the torrent (BEP 12 tiers) and those given with --tracker. Peers may also \
            connect in on --port. A magnet link's metadata is fetched first from the peers of its x.pe, its trackers \
            (tr) and --peer (BEP 9); its so (BEP 53) selects files unless --files is given. With --seed it keeps uploading once complete, until interrupted.
            Ctrl-C stops cleanly; running the same command again resumes. \
            Exit status: 0 when every selected file is downloaded and verified, 1 if peers ran out or it was \
            interrupted first (peers run out only without trackers and with local discovery off), 2 on unusable input.
            """
    )

    @Argument(help: "A .torrent file, an http(s) URL of one, or a magnet link.")
    var source: String

    @Option(name: .shortAndLong, help: "The download folder (default: the current folder).")
    var output: String = "."

    @Option(help: "Only these files, by their number in 'shoal info' (from 1), as a list such as 1,3-5.")
    var files: String?

    @Flag(help: "Fetch pieces in order, first to last, rather than rarest first.")
    var sequential = false

    @Flag(inversion: .prefixedNo, help: "Keep uploading once the download is complete (default: stop).")
    var seed = false

    @OptionGroup var peerOptions: PeerOptions

    func run() async throws {
        let settings = try peerOptions.settings(seeding: seed)
        let extraTrackers = try peerOptions.extraTrackers()
        var peers = try parsePeers(peerOptions.peers)
        let magnet: MagnetLink?
        if source.lowercased().hasPrefix("magnet:") {
            do { magnet = try MagnetLink(parsing: source) } catch { throw Terminal.badInput("\(error)") }
        } else {
            magnet = nil
        }
        let node = try await Node.start(settings: settings, serveTracker: peerOptions.serveTracker, listeningRequired: false,
                                        localDiscovery: peerOptions.localDiscovery, dht: peerOptions.dhtOptions)
        let torrent: Metainfo
        if var magnet {
            magnet.trackers += extraTrackers
            let announces = settings.trackers.enabled && !magnet.trackers.isEmpty
            let fetched = try await fetchMetadata(magnet, node: node, peers: peers, stopWhenPeersRunOut: !announces && !node.discovers)
            torrent = fetched.torrent
            peers += fetched.peers
            // Without piece layers no piece of a file longer than a piece could verify, and honest peers would be
            // banned for it.
            let info = torrent.info
            if info.version == .v2, info.files.contains(where: { $0.length > Int64(info.pieceLength) && torrent.pieceLayer(of: $0) == nil }) {
                Terminal.error("a v2-only torrent from a magnet link needs its piece layers from peers (BEP 52 hash requests), "
                               + "which Shoal does not ask for yet; use its .torrent file, or a hybrid torrent's magnet link")
                await node.close()
                throw ExitCode.failure
            }
        } else {
            torrent = isWebURL(source) ? try await fetchTorrent(source) : try loadTorrent(source)
        }
        let info = torrent.info
        let backend = FileStorage(root: output, files: info.files)
        let storage = PieceStorage(layout: StorageLayout(info), backend: backend)

        var options = TorrentOptions()
        options.sequential = sequential
        options.stopWhenComplete = !seed
        // A magnet link's torrent already lists them.
        options.extraTrackers = magnet == nil ? extraTrackers : []
        // With trackers or discovery, more peers may come at any time: only the user ends the wait.
        let announces = settings.trackers.enabled && !(torrent.trackers.isEmpty && options.extraTrackers.isEmpty)
        options.stopWhenPeersRunOut = !seed && !announces && !(node.discovers && !info.isPrivate)
        options.resumeFile = resumeFile(for: torrent)
        options.filePriorities = try files.map { list throws(ExitCode) in try selectFiles(list, of: info) } ?? magnet?.selectedFiles(of: info)

        let verified = try await startingPieces(torrent, storage, resumeFile: options.resumeFile)
        let runner = TorrentRunner(metainfo: torrent, storage: storage, options: options, peers: peers, finishedMessage: "download complete")
        let result = try await runner.run(on: node, verified: verified)
        await node.close()
        // Empty files hold no piece, so nothing above creates them.
        for (index, file) in info.files.enumerated() where file.length == 0 && !file.isPadding
            && options.filePriorities.map({ $0[index] != .skip }) ?? true {
            try? backend.write(file: FileIndex(index), at: 0, from: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let fetched = result.verified.setCount - verified.setCount
        print("\(result.verified.setCount) of \(info.pieceCount) pieces verified, \(fetched) downloaded "
              + "(\(formatBytes(result.stats.downloaded)) received)")
        switch result.outcome {
        case .complete: return
        case .incomplete, .interrupted: throw ExitCode(1)
        }
    }

    /// Resume data lives under `$XDG_STATE_HOME/shoal/resume` (or `~/.local/state/shoal/resume`), one file per
    /// torrent; its file stamps make it safe to share between download folders.
    private func resumeFile(for torrent: Metainfo) -> String? {
        guard let hash = torrent.info.infoHashes.wire else { return nil }
        return stateDirectory().map { "\($0)/shoal/resume/\(hash.hex).resume" }
    }

    /// The pieces to start from: resume data where every file is as it recorded; otherwise a full check, so
    /// data changed behind Shoal's back is never trusted.
    private func startingPieces(_ torrent: Metainfo, _ storage: PieceStorage, resumeFile: String?) async throws(ExitCode) -> Bitfield {
        if let resumeFile {
            do {
                if let resumed = try ResumeData.trustedPieces(at: resumeFile, torrent: torrent.info, storage: storage, requireAllFiles: true) {
                    FileHandle.standardError.write(Data("resuming with \(resumed.setCount) of \(resumed.count) pieces verified (resume data)\n".utf8))
                    return resumed
                }
            } catch {
                Terminal.warning("resume data not used (\(error)); checking the files")
            }
        }
        return try await checkExistingData(torrent, storage, label: "checking").good
    }

    /// File priorities from a list of file numbers as `shoal info` shows them (padding files not counted).
    private func selectFiles(_ list: String, of info: TorrentInfo) throws(ExitCode) -> [PiecePriority] {
        let shown = info.files.indices.filter { !info.files[$0].isPadding }
        var chosen = Set<Int>()
        for part in list.split(separator: ",") {
            let bounds = part.split(separator: "-", maxSplits: 1).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard let low = bounds.first ?? nil, let high = bounds.last ?? nil, low >= 1, low <= high, high <= shown.count else {
                throw Terminal.badInput("--files takes file numbers from 1 to \(shown.count), such as 1,3-5; not '\(list)'")
            }
            chosen.formUnion(low...high)
        }
        var priorities = [PiecePriority](repeating: .skip, count: info.files.count)
        for (number, index) in shown.enumerated() where chosen.contains(number + 1) { priorities[index] = .normal }
        return priorities
    }
}
