import Metainfo

/// libFuzzer entry: a torrent either fails with a typed error or loads into something consistent: safe paths,
/// files inside the piece space, and an encoding that loads again with the same info-hashes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMetainfo(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Also try the bytes as a bare info dictionary, as metadata exchange delivers it.
    if let info = try? TorrentInfo(bytes: bytes) { check(info) }
    guard let torrent = try? Metainfo(bytes: bytes) else { return 0 }
    check(torrent.info)
    let again = try? Metainfo(bytes: torrent.encoded())
    precondition(again?.info.infoHashes == torrent.info.infoHashes, "re-encoded torrent lost its identity")
    return 0
}

private func check(_ info: TorrentInfo) {
    precondition(info.pieceCount > 0 && info.pieceSpaceSize > 0)
    for file in info.files {
        precondition(!file.path.isEmpty, "empty path")
        for component in file.path + (file.symlinkTarget ?? []) {
            precondition(!component.isEmpty && component != "." && component != "..", "unsafe component")
            precondition(!component.contains("/") && !component.contains("\0"), "separator or NUL in a component")
        }
        precondition(file.length >= 0 && file.offset >= 0 && file.end <= info.pieceSpaceSize, "file outside the piece space")
    }
}
