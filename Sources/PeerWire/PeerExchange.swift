import Bencode
import Metainfo

/// What a peer exchange entry says about a peer (BEP 11's `added.f` bits).
public struct PeerExchangeFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// It prefers encrypted connections.
    public static let prefersEncryption = PeerExchangeFlags(rawValue: 0x01)
    /// It is a seed, or uploads only.
    public static let seed = PeerExchangeFlags(rawValue: 0x02)
    /// It speaks uTP.
    public static let utp = PeerExchangeFlags(rawValue: 0x04)
    /// It speaks `ut_holepunch`.
    public static let holepunch = PeerExchangeFlags(rawValue: 0x08)
    /// The sender connected to it, so it is reachable at this address.
    public static let reachable = PeerExchangeFlags(rawValue: 0x10)
}

/// A BEP 11 `ut_pex` message: peers the sender connected to, and peers it no longer is connected to, since its
/// last message.
public struct PeerExchangeMessage: Sendable, Hashable {
    public var added: [(address: PeerAddress, flags: PeerExchangeFlags)]
    public var dropped: [PeerAddress]

    public init(added: [(address: PeerAddress, flags: PeerExchangeFlags)] = [], dropped: [PeerAddress] = []) {
        self.added = added
        self.dropped = dropped
    }

    /// After the first message, BEP 11 allows at most this many added (and as many dropped) peers in one.
    public static let maxEntries = 50
    /// Peers read from one message, added and dropped each: a first message may list every connection, but a
    /// peer cannot make us remember thousands at once.
    public static let maxEntriesRead = 200

    /// A message is a few compact lists: 200 IPv6 entries with flags are under 4 KiB per list.
    private static let decoder = BencodeDecoder(
        limits: .init(maxInputSize: 32 * 1024, maxStringLength: 16 * 1024, maxDepth: 2, maxElements: 64),
        options: .init(requireSortedKeys: false))

    /// Reads a payload. Entries beyond ``maxEntriesRead``, with port 0, or listed twice (also as one IP address
    /// on several ports: BEP 11 says to ignore those) are skipped; lists of the wrong length are malformed.
    public init(parsing payload: [UInt8]) throws(PeerWireError) {
        let value: BencodeValue
        do { value = try Self.decoder.decode(payload) } catch {
            throw PeerWireError(.malformedExtension("ut_pex: \(error)"))
        }
        guard let dictionary = value.dictionary else {
            throw PeerWireError(.malformedExtension("ut_pex is a \(value.kindName), not a dictionary"))
        }
        func list(_ key: String, width: Int) throws(PeerWireError) -> [PeerAddress] {
            guard let bytes = dictionary[key]?.bytes else { return [] }
            guard let peers = PeerAddress.parseCompact(bytes, width: width, limit: Self.maxEntriesRead) else {
                throw PeerWireError(.malformedExtension("ut_pex \(key) of \(bytes.count) bytes is not a list of \(width)-byte peers"))
            }
            return peers
        }
        var seen = Set<IPAddress>()
        added = []
        for (key, width) in [("added", 6), ("added6", 18)] {
            guard let bytes = dictionary[key]?.bytes else { continue }
            guard bytes.count % width == 0 else {
                throw PeerWireError(.malformedExtension("ut_pex \(key) of \(bytes.count) bytes is not a list of \(width)-byte peers"))
            }
            // Entry by entry, so each keeps its own flag byte even where one before it (port 0) is skipped.
            let flags = dictionary[key + ".f"]?.bytes ?? []
            for index in 0..<bytes.count / width where added.count < Self.maxEntriesRead {
                guard let peer = PeerAddress.parseCompact(bytes[index * width..<(index + 1) * width], width: width)?.first,
                      seen.insert(peer.ip).inserted else { continue }
                added.append((peer, PeerExchangeFlags(rawValue: index < flags.count ? flags[index] : 0)))
            }
        }
        let dropped = try list("dropped", width: 6) + list("dropped6", width: 18)
        self.dropped = Array(Set(dropped).prefix(Self.maxEntriesRead))
    }

    /// The bencoded payload: IPv4 and IPv6 peers in their own lists, flags beside the added ones.
    public func encoded() -> [UInt8] {
        var dictionary = BencodeDictionary()
        for (suffix, isV4) in [("", true), ("6", false)] {
            let added = added.filter { $0.address.ip.isV4 == isV4 }
            let dropped = dropped.filter { $0.ip.isV4 == isV4 }
            dictionary["added" + suffix] = .string(added.flatMap(\.address.compact))
            dictionary["added\(suffix).f"] = .string(added.map(\.flags.rawValue))
            dictionary["dropped" + suffix] = .string(dropped.flatMap(\.compact))
        }
        return BencodeValue.dictionary(dictionary).encoded()
    }

    public static func == (lhs: PeerExchangeMessage, rhs: PeerExchangeMessage) -> Bool {
        lhs.added.map(\.address) == rhs.added.map(\.address) && lhs.added.map(\.flags) == rhs.added.map(\.flags) && lhs.dropped == rhs.dropped
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(added.map(\.address))
        hasher.combine(dropped)
    }
}
