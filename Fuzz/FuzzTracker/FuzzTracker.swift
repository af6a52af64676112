import Metainfo
import NIOCore
import Tracker
import TrackerServer

/// libFuzzer entry: the first byte picks what reads the rest, as a tracker's reply or a client's request would
/// reach it. Every reader must return or throw its typed error, within its limits, for any bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTracker(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    switch data[0] % 5 {
    case 0:
        if let response = try? HTTPTrackerCodec.parseAnnounce(bytes) {
            precondition(response.peers.count <= TrackerLimits.maxPeersPerReply, "too many peers kept")
        }
    case 1:
        let hash = SHA1Hash(bytes: [UInt8](repeating: 0, count: 20))!
        _ = try? HTTPTrackerCodec.parseScrape(bytes, infoHash: hash)
    case 2:
        for width in [6, 18] {
            if case .announced(let response)? = try? UDPTrackerCodec.parseReply(ByteBuffer(bytes: bytes), peerWidth: width) {
                precondition(response.peers.count <= TrackerLimits.maxPeersPerReply, "too many peers kept")
            }
        }
    case 3:
        let packet = ByteBuffer(bytes: bytes)
        if case .scrape(_, _, let hashes)? = UDPTrackerCodec.parseRequest(packet) {
            precondition(hashes.count <= UDPTrackerCodec.maxScrapeHashes, "too many hashes read")
        }
        _ = UDPTrackerCodec.urlData(of: packet)
    default:
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? TrackerURL(text)
        _ = AllowList.parse(text)
        _ = HTTPTrackerCodec.scrapeURL(forAnnounce: text)
    }
    return 0
}
