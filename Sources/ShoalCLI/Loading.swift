import ArgumentParser
import Foundation
import Shoal

/// What `shoal info` can be given: a torrent file or a magnet link.
enum TorrentSource {
    case torrent(Metainfo)
    case magnet(MagnetLink)
}

/// The largest torrent file read, the bencode decoder's own input limit.
private let maxTorrentFileSize = BencodeDecoder.torrent.limits.maxInputSize

/// Reads and parses a torrent file; any failure is bad input (exit 2) with one line naming what is wrong.
func loadTorrent(_ path: String) throws(ExitCode) -> Metainfo {
    let url = URL(fileURLWithPath: path)
    let size: Int
    do {
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        size = (attributes[.size] as? NSNumber)?.intValue ?? 0
    } catch {
        throw Terminal.badInput("cannot read '\(path)': no such file or not accessible")
    }
    guard size <= maxTorrentFileSize else {
        throw Terminal.badInput("'\(path)' is \(size) bytes, larger than the \(maxTorrentFileSize)-byte limit for torrent files")
    }
    let bytes: [UInt8]
    do { bytes = Array(try Data(contentsOf: url)) } catch {
        throw Terminal.badInput("cannot read '\(path)': \(error.localizedDescription)")
    }
    do { return try Metainfo(bytes: bytes) } catch {
        throw Terminal.badInput("'\(path)': \(error)")
    }
}

/// A magnet link if the argument is one, otherwise a torrent file.
func loadSource(_ argument: String) throws(ExitCode) -> TorrentSource {
    if argument.lowercased().hasPrefix("magnet:") {
        do { return .magnet(try MagnetLink(parsing: argument)) } catch { throw Terminal.badInput("\(error)") }
    }
    return .torrent(try loadTorrent(argument))
}
