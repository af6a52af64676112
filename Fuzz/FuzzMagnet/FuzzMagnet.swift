import Metainfo

/// libFuzzer entry: any text either fails with a typed error or parses into a link whose written form parses
/// back to the same link.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMagnet(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let link = try? MagnetLink(parsing: text) else { return 0 }
    let again = try? MagnetLink(parsing: link.description)
    precondition(again == link, "magnet link did not survive a round trip: \(link.description)")
    return 0
}
