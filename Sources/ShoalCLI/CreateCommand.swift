#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import Shoal

struct CreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Make a torrent from a file or folder (hybrid v1+v2 by default)."
    )

    @Argument(help: "The file or folder to share.")
    var path: String

    @Option(name: .shortAndLong, help: "Where to write the torrent (default: NAME.torrent in the current folder).")
    var output: String?

    @Option(name: .customLong("tracker"), help: "A tracker URL; repeat for more. Each forms its own tier.")
    var trackers: [String] = []

    @Option(name: .customLong("web-seed"), help: "A web seed URL (BEP 19); repeat for more.")
    var webSeeds: [String] = []

    @Option(help: "Bytes per piece, a power of two from 16 KiB (suffixes k and m allowed), or 'auto'.")
    var pieceSize: String = "auto"

    @Flag(help: "Which formats to write.")
    var format: Format = .hybrid

    @Flag(help: "Mark the torrent private (BEP 27): peers only from its trackers.")
    var `private` = false

    @Option(help: "A comment.")
    var comment: String?

    @Option(help: "A source tag, as private trackers ask.")
    var source: String?

    @Flag(help: "Leave out the creation date, so the same input gives the same file.")
    var noDate = false

    @Option(help: "Hashing threads (default: one per core).")
    var threads: Int = defaultHashingThreads

    enum Format: String, EnumerableFlag {
        case v1, v2, hybrid
        static func help(for value: Format) -> ArgumentHelp? {
            switch value {
            case .v1: "Only BEP 3 (SHA-1 pieces), for the oldest clients."
            case .v2: "Only BEP 52 (SHA-256 merkle trees)."
            case .hybrid: "Both, readable by v1-only and v2 clients (the default)."
            }
        }
    }

    func run() async throws {
        var options = TorrentCreator.Options()
        options.version = TorrentVersion(rawValue: format.rawValue) ?? .hybrid
        options.metadata.trackers = trackers.map { [$0] }
        options.metadata.webSeeds = webSeeds
        options.metadata.comment = comment
        options.metadata.source = source
        options.metadata.isPrivate = `private`
        options.metadata.createdBy = "Shoal/\(shoalVersion)"
        options.metadata.creationDate = noDate ? nil : Int64(Date().timeIntervalSince1970)
        options.threads = max(1, threads)
        if pieceSize != "auto" {
            guard let bytes = parseByteCount(pieceSize) else {
                throw ValidationError("--piece-size takes 'auto' or a byte count such as 262144, 256k or 1m")
            }
            options.pieceLength = bytes
        }

        let listing: TorrentCreator.Listing
        do { listing = try TorrentCreator.list(path: path) } catch { throw Terminal.badInput("\(error)") }
        let outputPath = output ?? listing.name + ".torrent"
        let total = listing.files.reduce(Int64(0)) { $0 + $1.length }
        let bar = ProgressBar(label: "hashing", total: total)
        let torrent: Metainfo
        do {
            torrent = try await TorrentCreator(options: options).create(listing) { bar.update($0) }
        } catch {
            bar.finish()
            throw Terminal.badInput("\(error)")
        }
        bar.finish()
        do { try AtomicFile.store(torrent.encoded(), at: outputPath) } catch {
            Terminal.error("cannot write '\(outputPath)': \(error)")
            throw ExitCode.failure
        }
        let hashes = torrent.info.infoHashes
        FileHandle.standardError.write(Data("""
            wrote \(outputPath): \(torrent.info.name), \(formatBytes(torrent.info.totalSize)), \
            \(torrent.info.pieceCount) pieces of \(formatBytes(Int64(torrent.info.pieceLength)))
            \(hashes.v1.map { "info-hash v1: \($0.hex)\n" } ?? "")\(hashes.v2.map { "info-hash v2: \($0.hex)\n" } ?? "")
            """.utf8))
    }
}

/// `262144`, `256k`, `1m` (binary units) into bytes.
func parseByteCount(_ text: String) -> Int? {
    let lower = text.lowercased()
    var multiplier = 1
    var digits = Substring(lower)
    if let last = lower.last, let scale = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30][String(last)] {
        multiplier = scale
        digits = lower.dropLast()
    }
    guard let value = Int(digits), value > 0, value <= Int.max / multiplier else { return nil }
    return value * multiplier
}

/// Writes a file so that it either appears whole under its name or not at all: into a temporary file beside
/// it, flushed to disk, then renamed. Ctrl-C (or SIGTERM) while writing removes the temporary file.
enum AtomicFile {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The temporary file being written, for the signal handler to remove. Unchecked because a signal handler
    /// cannot take a lock; safe because one task at a time writes it (`store` is not reentrant), the handler
    /// only reads it, and it is cleared before the memory it points to is freed.
    nonisolated(unsafe) private static var pendingPath: UnsafeMutablePointer<CChar>?

    static func store(_ bytes: [UInt8], at path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).partial").path
        pendingPath = strdup(temporary)
        installCleanup()
        defer {
            let path = pendingPath
            pendingPath = nil
            free(path)
        }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Failure(description: String(cString: strerror(errno))) }
        var ok = bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = write(descriptor, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 { if errno == EINTR { continue }; return false }
                done += n
            }
            return true
        }
        var code = errno
        if ok, fsync(descriptor) != 0 {
            ok = false
            code = errno
        }
        close(descriptor)
        if ok, rename(temporary, path) != 0 {
            ok = false
            code = errno
        }
        guard ok else {
            let reason = String(cString: strerror(code))
            unlink(temporary)
            throw Failure(description: reason)
        }
    }

    private static func installCleanup() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber) { number in
                // Only async-signal-safe calls here: unlink and _exit.
                if let path = AtomicFile.pendingPath { unlink(path) }
                _exit(128 + number)
            }
        }
    }
}
