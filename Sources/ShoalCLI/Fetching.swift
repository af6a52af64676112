import ArgumentParser
import AsyncHTTPClient
import NIOCore
import Shoal

/// Whether a download source is an http(s) URL rather than a file.
func isWebURL(_ source: String) -> Bool {
    let lower = source.lowercased()
    return lower.hasPrefix("http://") || lower.hasPrefix("https://")
}

/// Fetches and parses a torrent file over http(s): redirects followed (at most 5, no loops), 30 seconds in
/// all, and never more bytes than a torrent file may have. Any failure is bad input (exit 2).
func fetchTorrent(_ url: String) async throws(ExitCode) -> Metainfo {
    let limit = BencodeDecoder.torrent.limits.maxInputSize
    let bytes: ByteBuffer
    do {
        // The trackers' client: it follows at most 5 redirects (HTTPClient.shared follows 20).
        let response = try await HTTPTrackerClient.defaultClient.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        guard response.status == .ok else {
            throw ReadFailure(description: "the server answered \(response.status.code) \(response.status.reasonPhrase)")
        }
        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > limit {
            throw ReadFailure(description: "\(length) bytes, larger than the \(limit)-byte limit for torrent files")
        }
        bytes = try await response.body.collect(upTo: limit)
    } catch let failure as ReadFailure {
        throw Terminal.badInput("cannot fetch \(url): \(failure)")
    } catch {
        throw Terminal.badInput("cannot fetch \(url): \(error)")
    }
    do { return try Metainfo(bytes: Array(bytes.readableBytesView)) } catch {
        throw Terminal.badInput("\(url): \(error)")
    }
}
