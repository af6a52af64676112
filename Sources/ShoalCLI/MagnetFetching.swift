import ArgumentParser
import Foundation
import Shoal

/// Fetches a magnet link's metadata in `node`'s session, showing peers and trackers as a download does; Ctrl-C
/// or SIGTERM stops it (exit 1). Returns the torrent, and the peers that answered, for the download to start with.
func fetchMetadata(_ magnet: MagnetLink, node: Node, peers: [(host: String, port: Int)],
                   stopWhenPeersRunOut: Bool) async throws(ExitCode) -> (torrent: Metainfo, peers: [(host: String, port: Int)]) {
    var options = MetadataFetch.Options()
    options.stopWhenPeersRunOut = stopWhenPeersRunOut
    let fetch: MetadataFetch
    do { fetch = try node.session.fetchMetadata(magnet, options: options) } catch { throw Terminal.badInput("\(error)") }
    fetch.addPeers(peers)
    let name = magnet.displayName.map { "'\($0)'" } ?? magnet.infoHashes.wire?.hex ?? "the magnet link"
    FileHandle.standardError.write(Data("fetching the metadata of \(name)\n".utf8))
    let interrupt = SignalWatch { fetch.stop() }
    let reporter = Task { await Reporter(finishedMessage: nil).show(fetch.events) }
    let outcome: Result<Metainfo, MetadataFetchError>
    do { outcome = .success(try await fetch.run()) } catch { outcome = .failure(error) }
    await reporter.value
    _ = interrupt.cancel()
    switch outcome {
    case .success(let torrent): return (torrent, fetch.reachedPeers)
    case .failure(let error):
        Terminal.error("\(error)")
        throw ExitCode.failure
    }
}

extension MagnetLink {
    /// File priorities for the link's `so` (BEP 53): its indices count every file of the info dictionary, as
    /// libtorrent's do; indices beyond the last file are ignored. Nil when the link selects nothing.
    func selectedFiles(of info: TorrentInfo) -> [PiecePriority]? {
        guard !selectOnly.isEmpty else { return nil }
        return info.files.indices.map { index in selectOnly.contains { $0.contains(index) } ? .normal : .skip }
    }
}
