import Bencode
import Metainfo

/// The HTTP tracker protocol as values (BEP 3, compact peers BEP 23, IPv6 peers BEP 7, scrape BEP 48):
/// building announce and scrape URLs, and reading replies within ``TrackerLimits``.
public enum HTTPTrackerCodec {
    /// How replies are decoded: no deeper than a dictionary-peer list needs, and never more than the body limit.
    static let decoder = BencodeDecoder(
        limits: .init(maxInputSize: TrackerLimits.maxHTTPBody, maxStringLength: TrackerLimits.maxHTTPBody, maxDepth: 8,
                      maxElements: 50_000),
        options: .init(requireSortedKeys: false, rejectTrailingData: false))

    /// The announce URL for `request`: `base` with the BEP 3 query appended (after its own query, if it has one).
    public static func announceURL(_ base: String, _ request: AnnounceRequest) -> String {
        var query = [
            "info_hash=" + PercentEncoding.encode(request.infoHash.bytes, keepingSlashAndColon: false),
            "peer_id=" + PercentEncoding.encode(request.peerID, keepingSlashAndColon: false),
            "port=\(request.port)",
            "uploaded=\(request.uploaded)",
            "downloaded=\(request.downloaded)",
            "left=\(request.left)",
            "compact=1",
            "key=" + String(request.key, radix: 16),
        ]
        if let event = request.event.httpName { query.append("event=" + event) }
        if let numWant = request.numWant { query.append("numwant=\(numWant)") }
        if let trackerID = request.trackerID { query.append("trackerid=" + PercentEncoding.encode(trackerID, keepingSlashAndColon: false)) }
        return base + (base.contains("?") ? "&" : "?") + query.joined(separator: "&")
    }

    /// The scrape URL of an announce URL (BEP 48): its last path segment `announce…` becomes `scrape…`. Nil when
    /// the segment does not start with `announce`, which means the tracker offers no scrape.
    public static func scrapeURL(forAnnounce announce: String) -> String? {
        let path = announce.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let segment = path[path.index(after: slash)...]
        guard segment.hasPrefix("announce") else { return nil }
        return String(announce[..<path.index(after: slash)]) + "scrape" + String(announce[segment.index(segment.startIndex, offsetBy: 8)...])
    }

    /// A scrape URL asking about `infoHashes`.
    public static func scrapeURL(_ base: String, infoHashes: [SHA1Hash]) -> String {
        base + (base.contains("?") ? "&" : "?")
            + infoHashes.map { "info_hash=" + PercentEncoding.encode($0.bytes, keepingSlashAndColon: false) }.joined(separator: "&")
    }

    /// Reads an announce reply. A `failure reason` is thrown as ``TrackerError/failure(_:)``; peers beyond
    /// ``TrackerLimits/maxPeersPerReply`` are dropped.
    public static func parseAnnounce(_ body: [UInt8]) throws(TrackerError) -> AnnounceResponse {
        let top = try dictionary(body)
        if let reason = top["failure reason"] { throw .failure(message(reason)) }
        guard let interval = top["interval"]?.integer, interval >= 0 else { throw .malformed("no interval") }
        var response = AnnounceResponse(interval: Int(min(interval, 86_400)))
        if let minInterval = top["min interval"]?.integer, minInterval >= 0 { response.minInterval = Int(min(minInterval, 86_400)) }
        response.seeders = count(top["complete"])
        response.leechers = count(top["incomplete"])
        response.warning = top["warning message"].map(message)
        response.trackerID = top["tracker id"]?.bytes.map { Array($0.prefix(TrackerLimits.maxMessageLength)) }
        let limit = TrackerLimits.maxPeersPerReply
        switch top["peers"] {
        case .string(let compact):
            guard let peers = PeerAddress.parseCompact(compact, width: 6, limit: limit) else {
                throw .malformed("compact peers of \(compact.count) bytes, not a multiple of 6")
            }
            response.peers = peers
        case .list(let list):
            response.peers = list.lazy.compactMap(Self.dictionaryPeer).prefix(limit).map { $0 }
        case nil: break
        default: throw .malformed("peers is neither a string nor a list")
        }
        if let compact = top["peers6"]?.bytes {
            guard let peers = PeerAddress.parseCompact(compact, width: 18, limit: limit - response.peers.count) else {
                throw .malformed("compact IPv6 peers of \(compact.count) bytes, not a multiple of 18")
            }
            response.peers += peers
        }
        return response
    }

    /// Reads a scrape reply's counts for `infoHash`; nil when the tracker does not list it.
    public static func parseScrape(_ body: [UInt8], infoHash: SHA1Hash) throws(TrackerError) -> ScrapeCounts? {
        let top = try dictionary(body)
        if let reason = top["failure reason"] { throw .failure(message(reason)) }
        guard let files = top["files"]?.dictionary else { throw .malformed("a scrape reply without files") }
        guard let entry = files[infoHash.bytes]?.dictionary else { return nil }
        return ScrapeCounts(seeders: count(entry["complete"]) ?? 0, leechers: count(entry["incomplete"]) ?? 0,
                            completed: count(entry["downloaded"]) ?? 0)
    }

    private static func dictionary(_ body: [UInt8]) throws(TrackerError) -> BencodeDictionary {
        let value: BencodeValue
        do { value = try decoder.decodePrefix(body).value } catch { throw .malformed("\(error)") }
        guard let top = value.dictionary else { throw .malformed("a \(value.kindName), not a dictionary") }
        return top
    }

    /// A `{ip, port}` dictionary peer; nil when either is unusable (an `ip` may also be a host name: skipped).
    private static func dictionaryPeer(_ value: BencodeValue) -> PeerAddress? {
        guard let entry = value.dictionary, let ip = entry["ip"]?.utf8.flatMap({ IPAddress($0) }),
              let port = entry["port"]?.integer, (1...65535).contains(port) else { return nil }
        return PeerAddress(ip: ip, port: UInt16(port))
    }

    private static func count(_ value: BencodeValue?) -> Int? {
        guard let number = value?.integer, number >= 0 else { return nil }
        return Int(min(number, Int64(Int32.max)))
    }

    private static func message(_ value: BencodeValue) -> String {
        String(decoding: (value.bytes ?? []).prefix(TrackerLimits.maxMessageLength), as: UTF8.self)
    }
}
