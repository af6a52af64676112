import Bencode
import Metainfo
import NIOCore

/// The BEP 10 extensions Shoal speaks, by the names the handshake's `m` dictionary gives them.
public enum ExtensionMessage: String, Sendable, CaseIterable {
    /// BEP 11 peer exchange.
    case peerExchange = "ut_pex"
    /// BEP 9 metadata exchange.
    case metadata = "ut_metadata"

    /// The extended message id under which Shoal asks peers to send this extension (the ids libtorrent uses,
    /// which some clients assume).
    public var localID: UInt8 {
        switch self {
        case .peerExchange: 1
        case .metadata: 2
        }
    }

    /// The extension a message received with extended id `id` belongs to, by our own ids.
    public init?(localID id: UInt8) {
        guard let found = Self.allCases.first(where: { $0.localID == id }) else { return nil }
        self = found
    }
}

/// The BEP 10 extension handshake: extended message 0, a bencoded dictionary saying which extension
/// messages a peer speaks (and under which ids) and a few facts about it.
public struct ExtensionHandshake: Sendable, Hashable {
    /// `m`: extension names (such as `ut_metadata`, `ut_pex`) and the ids the sender wants them sent with.
    /// An id of 0 means the sender turns the extension off.
    public var messages: [String: UInt8]
    /// `p`: the sender's listening port.
    public var listenPort: UInt16?
    /// `v`: the sender's client name and version.
    public var client: String?
    /// `yourip`: the address the sender sees the receiver at (4 or 16 bytes).
    public var yourIP: [UInt8]?
    /// `reqq`: how many outstanding requests the sender accepts.
    public var requestQueueLength: Int?
    /// `metadata_size`: the size of the info dictionary (BEP 9).
    public var metadataSize: Int?

    public init(messages: [String: UInt8] = [:], listenPort: UInt16? = nil, client: String? = nil, yourIP: [UInt8]? = nil,
                requestQueueLength: Int? = nil, metadataSize: Int? = nil) {
        self.messages = messages
        self.listenPort = listenPort
        self.client = client
        self.yourIP = yourIP
        self.requestQueueLength = requestQueueLength
        self.metadataSize = metadataSize
    }

    /// Bounds for decoding a peer's handshake: it is small in every real client. Key order is not enforced:
    /// nothing is hashed here, and some clients send unsorted keys.
    public static let decoder = BencodeDecoder(limits: .init(maxInputSize: 64 * 1024, maxStringLength: 16 * 1024, maxDepth: 8,
                                                             maxElements: 4096),
                                               options: .init(requireSortedKeys: false))

    /// Parses the payload of extended message 0. Entries of the wrong type are ignored, as BEP 10 allows;
    /// a payload that is not a bencoded dictionary is an error.
    public init(payload: ByteBuffer) throws(PeerWireError) {
        let value: BencodeValue
        do { value = try Self.decoder.decode(Array(payload.readableBytesView)) } catch {
            throw PeerWireError(.malformedExtension("extension handshake: \(error)"))
        }
        guard case .dictionary(let dictionary) = value else {
            throw PeerWireError(.malformedExtension("extension handshake is a \(value.kindName), not a dictionary"))
        }
        self.init()
        for entry in dictionary["m"]?.dictionary?.entries ?? [] {
            guard let name = String(validating: entry.key, as: UTF8.self), let id = entry.value.integer,
                  (0...255).contains(id) else { continue }
            messages[name] = UInt8(id)
        }
        if let port = dictionary["p"]?.integer, (1...65535).contains(port) { listenPort = UInt16(port) }
        client = dictionary["v"]?.utf8
        if let ip = dictionary["yourip"]?.bytes, ip.count == 4 || ip.count == 16 { yourIP = ip }
        if let queue = dictionary["reqq"]?.integer, queue > 0, queue <= Int64(Int32.max) { requestQueueLength = Int(queue) }
        // No info dictionary larger than a torrent file may be can be asked for.
        if let size = dictionary["metadata_size"]?.integer, size > 0,
           size <= Int64(BencodeDecoder.torrent.limits.maxInputSize) { metadataSize = Int(size) }
    }

    /// The bencoded payload of extended message 0.
    public func encoded() -> [UInt8] {
        var dictionary = BencodeDictionary()
        var m = BencodeDictionary()
        for (name, id) in messages { m[name] = .integer(Int64(id)) }
        dictionary["m"] = .dictionary(m)
        if let listenPort { dictionary["p"] = .integer(Int64(listenPort)) }
        if let client { dictionary["v"] = .text(client) }
        if let yourIP { dictionary["yourip"] = .string(yourIP) }
        if let requestQueueLength { dictionary["reqq"] = .integer(Int64(requestQueueLength)) }
        if let metadataSize { dictionary["metadata_size"] = .integer(Int64(metadataSize)) }
        return BencodeValue.dictionary(dictionary).encoded()
    }
}
