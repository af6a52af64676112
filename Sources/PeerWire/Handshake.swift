import Metainfo
import NIOCore

/// The reserved bits of the handshake: which extensions a peer speaks.
public struct ExtensionBits: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// BEP 10, the extension protocol: byte 5, 0x10.
    public static let extensionProtocol = ExtensionBits(rawValue: 0x10 << 16)
    /// BEP 6, the fast extension: byte 7, 0x04.
    public static let fast = ExtensionBits(rawValue: 0x04)
    /// BEP 5, the DHT port message: byte 7, 0x01.
    public static let dht = ExtensionBits(rawValue: 0x01)
    /// BEP 52: the peer can upgrade to the v2 info-hash of a hybrid torrent: byte 7, 0x10.
    public static let v2Upgrade = ExtensionBits(rawValue: 0x10)
}

/// The 68-byte handshake that opens every peer connection (BEP 3).
public struct Handshake: Sendable, Hashable {
    /// The protocol name with its length byte.
    public static let protocolHeader: [UInt8] = [19] + Array("BitTorrent protocol".utf8)
    /// The size of a handshake on the wire.
    public static let length = 68

    public var extensions: ExtensionBits
    /// The 20-byte info-hash: v1, or the truncated v2 hash.
    public var infoHash: SHA1Hash
    public var peerID: PeerID

    public init(extensions: ExtensionBits, infoHash: SHA1Hash, peerID: PeerID) {
        self.extensions = extensions
        self.infoHash = infoHash
        self.peerID = peerID
    }

    /// Writes the 68 bytes.
    public func write(to buffer: inout ByteBuffer) {
        buffer.writeBytes(Self.protocolHeader)
        buffer.writeInteger(extensions.rawValue)
        buffer.writeBytes(infoHash.bytes)
        buffer.writeBytes(peerID.bytes)
    }

    /// Reads a handshake from the front of `buffer`: nil if fewer than 68 bytes have arrived (nothing is
    /// consumed), an error as soon as the protocol header is wrong.
    public static func read(from buffer: inout ByteBuffer) throws(PeerWireError) -> Handshake? {
        let header = buffer.getBytes(at: buffer.readerIndex, length: min(buffer.readableBytes, protocolHeader.count)) ?? []
        guard header == Array(protocolHeader.prefix(header.count)) else { throw PeerWireError(.notBitTorrent) }
        guard buffer.readableBytes >= length else { return nil }
        var copy = buffer
        copy.moveReaderIndex(forwardBy: protocolHeader.count)
        // With 68 bytes present these reads cannot fail; the guard only keeps the compiler's word for it.
        guard let reserved = copy.readInteger(as: UInt64.self), let hashBytes = copy.readBytes(length: 20),
              let hash = SHA1Hash(bytes: hashBytes), let idBytes = copy.readBytes(length: 20),
              let peer = PeerID(bytes: idBytes) else { return nil }
        buffer = copy
        return Handshake(extensions: ExtensionBits(rawValue: reserved), infoHash: hash, peerID: peer)
    }
}
