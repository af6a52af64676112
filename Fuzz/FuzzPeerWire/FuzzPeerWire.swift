import NIOCore
import PeerWire

/// libFuzzer entry: a peer's byte stream either parses into messages that re-encode to exactly the bytes they
/// came from, or fails with a typed error; the first byte picks handshake-first or messages-only, and extension
/// handshakes found on the way are decoded too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPeerWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    var buffer = ByteBuffer(bytes: UnsafeBufferPointer(start: data + 1, count: size - 1))
    if data[0] & 1 == 1 {
        guard let handshake = try? Handshake.read(from: &buffer) else { return 0 }
        var written = ByteBuffer()
        handshake.write(to: &written)
        precondition(written.readableBytes == Handshake.length)
    }
    let parser = PeerMessageParser(maxMessageLength: 64 * 1024)
    while true {
        let start = buffer
        guard let message = try? parser.next(from: &buffer) else { return 0 }
        var written = ByteBuffer()
        message.write(to: &written)
        let consumed = start.readableBytes - buffer.readableBytes
        precondition(written.readableBytesView.elementsEqual(start.readableBytesView.prefix(consumed)),
                     "message did not re-encode to its own bytes")
        if case .extended(0, let payload) = message { _ = try? ExtensionHandshake(payload: payload) }
    }
}
