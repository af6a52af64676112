import Bencode
import Metainfo

/// The transaction id of a KRPC exchange (`t`): chosen by the querying node, echoed in the reply.
public struct TransactionID: Sendable, Hashable, CustomStringConvertible {
    /// The longest id accepted. BEP 5 suggests 2 bytes; other clients use up to 4 or 8. Longer ids would only
    /// let a sender make our replies bigger.
    public static let maxLength = 16

    /// The id's bytes, 1 to ``maxLength`` of them.
    public let bytes: [UInt8]

    /// An id from its bytes, or nil when there are none or more than ``maxLength``.
    public init?(bytes: [UInt8]) {
        guard (1...Self.maxLength).contains(bytes.count) else { return nil }
        self.bytes = bytes
    }

    /// A 2-byte id, big-endian: what this node sends.
    public init(_ value: UInt16) { bytes = [UInt8(value >> 8), UInt8(value & 0xff)] }

    public var description: String { encodeHex(bytes) }
}

/// One KRPC message (BEP 5): a query, a response or an error, with the extensions of BEP 32 (`want`, `nodes6`),
/// BEP 42 (`ip`) and BEP 43 (`ro`).
///
/// ```swift
/// let ping = KRPCMessage(transactionID: TransactionID(1), body: .query(.init(sender: ourID, method: .ping)))
/// let datagram = ping.encoded()
/// let reply = try KRPCMessage(decoding: receivedBytes)
/// ```
///
/// Decoding is strict about what the protocol relies on (`t`, `y`, `q`, `a`, `r`, `e`, ids, targets, tokens,
/// ports, node lists, values) and lenient about informational extras (`v`, `ro`, `ip`, entries of `want`,
/// unknown keys), which are ignored when malformed, as other clients do.
public struct KRPCMessage: Sendable, Hashable {
    /// The largest datagram decoded. BEP 32 has nodes send at most 1024 bytes but asks them to accept more;
    /// 2048 covers every reply real clients send (a full Ethernet frame is 1500) while bounding the work.
    public static let maxDatagramSize = 2048
    /// The most peers accepted in `values`: twice the 100 that libtorrent sends at most.
    public static let maxValues = 200
    /// The longest write token accepted. Real tokens are 4 to 20 bytes.
    public static let maxTokenLength = 64
    /// The longest `v` (client version) kept; longer ones are ignored. Real ones are 4 bytes.
    public static let maxClientVersionLength = 16

    /// Bencode limits for a datagram: the top-level dictionary, `a` or `r`, `values` or `want`, and their strings
    /// make depth 4; 512 values is more than 2048 bytes can usefully hold. Keys may arrive unsorted from some
    /// clients, and nothing here is hashed, so order is not enforced.
    private static let decoder = BencodeDecoder(
        limits: .init(maxInputSize: maxDatagramSize, maxStringLength: maxDatagramSize, maxDepth: 4, maxElements: 512),
        options: .init(requireSortedKeys: false))

    /// The exchange this message belongs to.
    public var transactionID: TransactionID
    /// The query, response or error.
    public var body: Body
    /// The sender's client and version (`v`), typically 2 letters and 2 bytes of version.
    public var clientVersion: [UInt8]?
    /// BEP 43: the sender is read-only and must not be added to routing tables (`ro=1`).
    public var isReadOnly: Bool
    /// BEP 42: the address the replying node saw the query come from (`ip`), so the requester can learn its
    /// external address and pick a secure id.
    public var requesterAddress: PeerAddress?

    public init(transactionID: TransactionID, body: Body, clientVersion: [UInt8]? = nil, isReadOnly: Bool = false,
                requesterAddress: PeerAddress? = nil) {
        self.transactionID = transactionID
        self.body = body
        self.clientVersion = clientVersion
        self.isReadOnly = isReadOnly
        self.requesterAddress = requesterAddress
    }

    /// The three kinds of KRPC message (`y`).
    public enum Body: Sendable, Hashable {
        case query(Query)
        case response(Response)
        case error(ErrorReply)
    }

    /// A query (`y=q`): the sender's id and what it asks.
    public struct Query: Sendable, Hashable {
        /// The querying node's id (`a.id`).
        public var sender: NodeID
        /// The method and its arguments.
        public var method: Method

        public init(sender: NodeID, method: Method) {
            self.sender = sender
            self.method = method
        }
    }

    /// A query method with its arguments. Unknown methods decode as ``unknown(name:)`` so that the node can
    /// answer them with error 204.
    public enum Method: Sendable, Hashable {
        /// Is the node alive?
        case ping
        /// The nodes closest to `target`.
        case findNode(target: NodeID, want: Want)
        /// Peers for `infoHash`, or the nodes closest to it, and a write token.
        case getPeers(infoHash: SHA1Hash, want: Want)
        /// Store the sender as a peer for `infoHash`. With `impliedPort`, the UDP source port is the peer's
        /// port and `port` is ignored (it is 0 when the sender left it out).
        case announcePeer(infoHash: SHA1Hash, port: UInt16, impliedPort: Bool, token: [UInt8])
        /// A method this node does not know.
        case unknown(name: [UInt8])

        /// The method name (`q`).
        public var name: [UInt8] {
            switch self {
            case .ping: Array("ping".utf8)
            case .findNode: Array("find_node".utf8)
            case .getPeers: Array("get_peers".utf8)
            case .announcePeer: Array("announce_peer".utf8)
            case .unknown(let name): name
            }
        }
    }

    /// BEP 32 `want`: which node families a `find_node` or `get_peers` reply should carry. Empty means the
    /// family of the socket the query came in on.
    public struct Want: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// `n4`: IPv4 nodes in `nodes`.
        public static let n4 = Want(rawValue: 1)
        /// `n6`: IPv6 nodes in `nodes6`.
        public static let n6 = Want(rawValue: 2)
    }

    /// A response (`y=r`). BEP 5 replies do not name the query they answer; the transaction id does. Fields a
    /// reply does not carry are empty or nil, and empty ones are not encoded.
    public struct Response: Sendable, Hashable {
        /// The responding node's id.
        public var id: NodeID
        /// IPv4 nodes (`nodes`, 26 bytes each).
        public var nodes: [NodeInfo]
        /// IPv6 nodes (`nodes6`, 38 bytes each, BEP 32).
        public var nodes6: [NodeInfo]
        /// Peers (`values`), each 6 (IPv4) or 18 (IPv6) bytes on the wire.
        public var values: [PeerAddress]
        /// The write token for a later `announce_peer`.
        public var token: [UInt8]?

        public init(id: NodeID, nodes: [NodeInfo] = [], nodes6: [NodeInfo] = [], values: [PeerAddress] = [],
                    token: [UInt8]? = nil) {
            self.id = id
            self.nodes = nodes
            self.nodes6 = nodes6
            self.values = values
            self.token = token
        }
    }

    /// An error (`y=e`): a code and a message.
    public struct ErrorReply: Sendable, Hashable {
        public var code: Int
        public var message: String

        public init(code: Int, message: String) {
            self.code = code
            self.message = message
        }

        /// 203: malformed packet, invalid arguments or bad token.
        public static func protocolError(_ message: String) -> ErrorReply { ErrorReply(code: 203, message: message) }
        /// 204: the method is not known.
        public static let methodUnknown = ErrorReply(code: 204, message: "Method Unknown")
    }
}

// MARK: - Encoding

extension KRPCMessage {
    /// The datagram: canonical bencode, keys sorted.
    public func encoded() -> [UInt8] {
        var top = BencodeDictionary()
        top["t"] = .string(transactionID.bytes)
        if let clientVersion { top["v"] = .string(clientVersion) }
        if isReadOnly { top["ro"] = .integer(1) }
        if let requesterAddress { top["ip"] = .string(requesterAddress.compact) }
        switch body {
        case .query(let query):
            top["y"] = .text("q")
            top["q"] = .string(query.method.name)
            top["a"] = .dictionary(query.arguments)
        case .response(let response):
            top["y"] = .text("r")
            top["r"] = .dictionary(response.dictionary)
        case .error(let error):
            top["y"] = .text("e")
            top["e"] = .list([.integer(Int64(error.code)), .text(error.message)])
        }
        return BencodeValue.dictionary(top).encoded()
    }

    /// The number of bytes ``encoded()`` produces, so that a reply can be checked against a size budget.
    public var encodedSize: Int { encoded().count }

    /// Drops peers from the end of a response's `values` until the datagram is at most `maxBytes`, so that a
    /// reply is never bigger than the node chose to send (replies amplify spoofed queries). Other messages,
    /// and responses that fit, are left alone.
    public mutating func trimValues(toFit maxBytes: Int) {
        guard case .response(var response) = body else { return }
        var excess = encodedSize - maxBytes
        while excess > 0, !response.values.isEmpty {
            // Each value costs `<length>:<bytes>`; the last one also takes the key and the list brackets with
            // it, so measure again after dropping just enough.
            var saved = 0
            while saved < excess, let last = response.values.popLast() {
                saved += last.compact.count + String(last.compact.count).utf8.count + 1
            }
            body = .response(response)
            excess = encodedSize - maxBytes
        }
    }
}

extension KRPCMessage.Query {
    /// The `a` dictionary.
    fileprivate var arguments: BencodeDictionary {
        var arguments = BencodeDictionary()
        arguments["id"] = .string(sender.bytes)
        switch method {
        case .ping, .unknown:
            break
        case .findNode(let target, let want):
            arguments["target"] = .string(target.bytes)
            if let want = want.encoded { arguments["want"] = want }
        case .getPeers(let infoHash, let want):
            arguments["info_hash"] = .string(infoHash.bytes)
            if let want = want.encoded { arguments["want"] = want }
        case .announcePeer(let infoHash, let port, let impliedPort, let token):
            arguments["info_hash"] = .string(infoHash.bytes)
            arguments["port"] = .integer(Int64(port))
            if impliedPort { arguments["implied_port"] = .integer(1) }
            arguments["token"] = .string(token)
        }
        return arguments
    }
}

extension KRPCMessage.Want {
    /// The `want` list, or nil when empty.
    fileprivate var encoded: BencodeValue? {
        var names: [BencodeValue] = []
        if contains(.n4) { names.append(.text("n4")) }
        if contains(.n6) { names.append(.text("n6")) }
        return names.isEmpty ? nil : .list(BencodeList(names))
    }
}

extension KRPCMessage.Response {
    /// The `r` dictionary.
    fileprivate var dictionary: BencodeDictionary {
        var dictionary = BencodeDictionary()
        dictionary["id"] = .string(id.bytes)
        if !nodes.isEmpty { dictionary["nodes"] = .string(nodes.flatMap(\.compact)) }
        if !nodes6.isEmpty { dictionary["nodes6"] = .string(nodes6.flatMap(\.compact)) }
        if !values.isEmpty { dictionary["values"] = .list(BencodeList(values.map { .string($0.compact) })) }
        if let token { dictionary["token"] = .string(token) }
        return dictionary
    }
}

// MARK: - Decoding

extension KRPCMessage {
    /// Decodes a datagram, within the limits above. Every rejection is a ``KRPCError`` naming the field.
    public init(decoding bytes: [UInt8]) throws(KRPCError) {
        guard bytes.count <= Self.maxDatagramSize else {
            throw KRPCError(.datagramTooLarge(size: bytes.count, limit: Self.maxDatagramSize))
        }
        let value: BencodeValue
        do { value = try Self.decoder.decode(bytes) } catch { throw KRPCError(.bencode(error)) }
        guard case .dictionary(let top) = value else { throw KRPCError(.wrongType(key: "message", expected: "dictionary")) }
        guard let t = top["t"] else { throw KRPCError(.missingKey("t")) }
        guard let tBytes = t.bytes else { throw KRPCError(.wrongType(key: "t", expected: "byte string")) }
        guard let transactionID = TransactionID(bytes: tBytes) else {
            throw KRPCError(.wrongLength(key: "t", length: tBytes.count, expected: "1 to \(TransactionID.maxLength)"))
        }
        let fields = Fields(entries: top, transactionID: transactionID)
        let y = try fields.bytes("y")
        switch y {
        case Array("q".utf8):
            let arguments = try fields.dictionary("a")
            body = .query(try Query(name: try fields.bytes("q"), arguments: arguments))
        case Array("r".utf8):
            body = .response(try Response(try fields.dictionary("r")))
        case Array("e".utf8):
            body = .error(try ErrorReply(fields))
        default:
            throw KRPCError(.unknownMessageType(y), transactionID: transactionID)
        }
        self.transactionID = transactionID
        clientVersion = top["v"]?.bytes.flatMap { $0.count <= Self.maxClientVersionLength ? $0 : nil }
        isReadOnly = top["ro"]?.integer == 1
        requesterAddress = top["ip"]?.bytes.flatMap { ip in
            ip.count == 6 || ip.count == 18 ? PeerAddress.parseCompact(ip, width: ip.count)?.first : nil
        }
    }
}

/// Typed access to one dictionary of a message, throwing errors that carry the transaction id.
private struct Fields {
    let entries: BencodeDictionary
    let transactionID: TransactionID

    func fail(_ reason: KRPCError.Reason) -> KRPCError { KRPCError(reason, transactionID: transactionID) }

    func value(_ key: String) throws(KRPCError) -> BencodeValue {
        guard let value = entries[key] else { throw fail(.missingKey(key)) }
        return value
    }

    func bytes(_ key: String) throws(KRPCError) -> [UInt8] {
        guard let bytes = try value(key).bytes else { throw fail(.wrongType(key: key, expected: "byte string")) }
        return bytes
    }

    func dictionary(_ key: String) throws(KRPCError) -> Fields {
        guard let inner = try value(key).dictionary else { throw fail(.wrongType(key: key, expected: "dictionary")) }
        return Fields(entries: inner, transactionID: transactionID)
    }

    func integer(_ key: String) throws(KRPCError) -> Int64 {
        guard let integer = try value(key).integer else { throw fail(.wrongType(key: key, expected: "integer")) }
        return integer
    }

    func nodeID(_ key: String) throws(KRPCError) -> NodeID {
        let bytes = try bytes(key)
        guard let id = NodeID(bytes: bytes) else { throw fail(.wrongLength(key: key, length: bytes.count, expected: "20")) }
        return id
    }

    /// A write token, at most ``KRPCMessage/maxTokenLength`` bytes.
    func token(_ key: String) throws(KRPCError) -> [UInt8] {
        let token = try bytes(key)
        guard token.count <= KRPCMessage.maxTokenLength else {
            throw fail(.wrongLength(key: key, length: token.count, expected: "at most \(KRPCMessage.maxTokenLength)"))
        }
        return token
    }

    func nodes(_ key: String, family: AddressFamily) throws(KRPCError) -> [NodeInfo] {
        guard entries[key] != nil else { return [] }
        let bytes = try bytes(key)
        guard let nodes = NodeInfo.parseCompact(bytes, family: family) else {
            throw fail(.wrongLength(key: key, length: bytes.count, expected: "a multiple of \(family.compactNodeLength)"))
        }
        return nodes
    }

    /// BEP 32 `want`; names other than `n4` and `n6` are ignored, as the BEP asks.
    var want: KRPCMessage.Want {
        var want: KRPCMessage.Want = []
        for name in entries["want"]?.list ?? [] {
            if name.bytes == Array("n4".utf8) { want.insert(.n4) }
            if name.bytes == Array("n6".utf8) { want.insert(.n6) }
        }
        return want
    }
}

extension KRPCMessage.Query {
    fileprivate init(name: [UInt8], arguments: Fields) throws(KRPCError) {
        sender = try arguments.nodeID("id")
        switch name {
        case Array("ping".utf8):
            method = .ping
        case Array("find_node".utf8):
            method = .findNode(target: try arguments.nodeID("target"), want: arguments.want)
        case Array("get_peers".utf8):
            method = .getPeers(infoHash: try arguments.nodeID("info_hash").infoHash, want: arguments.want)
        case Array("announce_peer".utf8):
            let infoHash = try arguments.nodeID("info_hash").infoHash
            let impliedPort = (arguments.entries["implied_port"]?.integer ?? 0) != 0
            var port: UInt16 = 0
            if !impliedPort || arguments.entries["port"] != nil {
                let value = try arguments.integer("port")
                guard (impliedPort ? 0 : 1)...65535 ~= value else { throw arguments.fail(.outOfRange(key: "port", value: value)) }
                port = UInt16(value)
            }
            method = .announcePeer(infoHash: infoHash, port: port, impliedPort: impliedPort, token: try arguments.token("token"))
        default:
            method = .unknown(name: name)
        }
    }
}

extension KRPCMessage.Response {
    fileprivate init(_ fields: Fields) throws(KRPCError) {
        id = try fields.nodeID("id")
        nodes = try fields.nodes("nodes", family: .v4)
        nodes6 = try fields.nodes("nodes6", family: .v6)
        values = []
        if fields.entries["values"] != nil {
            guard let list = try fields.value("values").list else { throw fields.fail(.wrongType(key: "values", expected: "list")) }
            guard list.count <= KRPCMessage.maxValues else {
                throw fields.fail(.tooMany(key: "values", count: list.count, limit: KRPCMessage.maxValues))
            }
            for entry in list {
                guard let bytes = entry.bytes else { throw fields.fail(.wrongType(key: "values", expected: "list of byte strings")) }
                guard bytes.count == 6 || bytes.count == 18, let peer = PeerAddress.parseCompact(bytes, width: bytes.count) else {
                    throw fields.fail(.wrongLength(key: "values", length: bytes.count, expected: "6 or 18"))
                }
                values += peer
            }
        }
        token = fields.entries["token"] == nil ? nil : try fields.token("token")
    }
}

extension KRPCMessage.ErrorReply {
    /// `e` is `[code, message]`; a missing message is read as empty, as some clients leave it out.
    fileprivate init(_ fields: Fields) throws(KRPCError) {
        guard let list = try fields.value("e").list, let code = list.first?.integer else {
            throw fields.fail(.wrongType(key: "e", expected: "list of an integer code and a message"))
        }
        guard let small = Int(exactly: code), (0...65535).contains(small) else { throw fields.fail(.outOfRange(key: "e", value: code)) }
        self.code = small
        message = list.count > 1 ? String(decoding: list[1].bytes ?? [], as: UTF8.self) : ""
    }
}
