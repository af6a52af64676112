#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
    let bytes: [UInt8]
    do { bytes = try readBoundedFile(path, limit: maxTorrentFileSize) } catch {
        throw Terminal.badInput("cannot read '\(path)': \(error)")
    }
    do { return try Metainfo(bytes: bytes) } catch {
        throw Terminal.badInput("'\(path)': \(error)")
    }
}

struct ReadFailure: Error, CustomStringConvertible {
    let description: String
}

/// The bytes of a regular file of at most `limit` bytes. Devices, FIFOs and files that grow past the limit
/// while being read are refused rather than read without end.
func readBoundedFile(_ path: String, limit: Int) throws(ReadFailure) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else { throw ReadFailure(description: String(cString: strerror(errno))) }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
        throw ReadFailure(description: "not a regular file")
    }
    guard Int(info.st_size) <= limit else {
        throw ReadFailure(description: "\(info.st_size) bytes, larger than the \(limit)-byte limit for torrent files")
    }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size) + 1)
    var count = 0
    while count < bytes.count {
        let n = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + count, $0.count - count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw ReadFailure(description: String(cString: strerror(errno)))
        }
        if n == 0 { break }
        count += n
    }
    guard count <= limit, count < bytes.count else { throw ReadFailure(description: "the file grew while being read") }
    return Array(bytes[..<count])
}

/// A magnet link if the argument is one, otherwise a torrent file.
func loadSource(_ argument: String) throws(ExitCode) -> TorrentSource {
    if argument.lowercased().hasPrefix("magnet:") {
        do { return .magnet(try MagnetLink(parsing: argument)) } catch { throw Terminal.badInput("\(error)") }
    }
    return .torrent(try loadTorrent(argument))
}

/// Checks the data already in `storage` against the torrent, with a progress bar on a terminal. A storage
/// failure (other than missing data, which the result reports) is unusable input: one line, exit 2.
func checkExistingData(_ torrent: Metainfo, _ storage: PieceStorage, label: String,
                       threads: Int = defaultHashingThreads) async throws(ExitCode) -> PieceCheckResult {
    let bar = ProgressBar(label: label, total: torrent.info.pieceSpaceSize)
    let result: PieceCheckResult
    do {
        result = try await PieceChecker(torrent: torrent, storage: storage, threads: max(1, threads)).check { bar.update($0) }
    } catch {
        bar.finish()
        throw Terminal.badInput("\(error)")
    }
    bar.finish()
    return result
}
