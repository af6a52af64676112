import ArgumentParser
import Foundation
import Shoal

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check data on disk against a torrent's hashes.",
        discussion: "Exit status: 0 if every piece is good, 1 if some are missing or bad, 2 on unusable input."
    )

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Argument(help: "The download folder: it holds the torrent's top-level file or folder.")
    var directory: String

    @Flag(help: "Print one JSON object: {pieces, good, missing, bad} with missing and bad as lists of piece indices.")
    var json = false

    @Option(help: "Hashing threads (default: one per core).")
    var threads: Int = defaultHashingThreads

    func run() async throws {
        let torrent = try loadTorrent(self.torrent)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder), isFolder.boolValue else {
            throw Terminal.badInput("'\(directory)' is not a folder")
        }
        let layout = StorageLayout(torrent.info)
        let storage = PieceStorage(layout: layout, backend: FileStorage(root: directory, files: torrent.info.files))
        let result = try await checkExistingData(torrent, storage, label: "verify", threads: threads)
        let missing = result.missing.map(\.value)
        let bad = result.bad.map(\.value)
        if json {
            try printJSON(VerifyReport(pieces: result.states.count, good: result.good.setCount, missing: missing, bad: bad))
        } else {
            print("\(result.states.count) pieces: \(result.good.setCount) good, \(missing.count) missing, \(bad.count) bad")
            if !missing.isEmpty { print("missing: " + describe(missing)) }
            if !bad.isEmpty { print("bad: " + describe(bad)) }
        }
        if !result.isComplete { throw ExitCode(1) }
    }

    /// Piece indices as compact ranges: `0-3, 7, 9-12`.
    private func describe(_ indices: [Int]) -> String {
        var parts: [String] = []
        var start = indices.first ?? 0
        var previous = start
        for index in indices.dropFirst() + [Int.min] {
            if index == previous + 1 {
                previous = index
                continue
            }
            parts.append(start == previous ? "\(start)" : "\(start)-\(previous)")
            start = index
            previous = index
        }
        return parts.joined(separator: ", ")
    }
}

struct VerifyReport: Encodable {
    var pieces: Int
    var good: Int
    var missing: [Int]
    var bad: [Int]
}
