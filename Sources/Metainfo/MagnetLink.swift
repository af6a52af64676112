/// A magnet link (BEP 9, with BEP 53's `so` and the v2 `btmh` form of BEP 52).
///
/// ```swift
/// let link = try MagnetLink(parsing: "magnet:?xt=urn:btih:…&dn=example")
/// print(link.infoHashes.wire!, link.trackers)
/// ```
///
/// Parameters Shoal does not know are kept in ``extraParameters`` and written back out.
public struct MagnetLink: Sendable, Hashable, CustomStringConvertible {
    /// The v1 hash (`urn:btih:`) and v2 hash (`urn:btmh:`), one or both.
    public var infoHashes: InfoHashes
    /// `dn`: a name to show until the metadata arrives.
    public var displayName: String?
    /// `tr`: tracker URLs.
    public var trackers: [String]
    /// `ws`: web seed URLs.
    public var webSeeds: [String]
    /// `x.pe`: peer addresses as `host:port`.
    public var peers: [String]
    /// `xl`: the exact total size in bytes.
    public var exactLength: Int64?
    /// `so`: the files to download (BEP 53), as ranges of file indices.
    public var selectOnly: [ClosedRange<Int>]
    /// Parameters not listed above, in order, with their values decoded.
    public var extraParameters: [Parameter]

    /// One `key=value` pair.
    public struct Parameter: Sendable, Hashable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }

    public init(infoHashes: InfoHashes, displayName: String? = nil, trackers: [String] = [], webSeeds: [String] = [],
                peers: [String] = [], exactLength: Int64? = nil, selectOnly: [ClosedRange<Int>] = [],
                extraParameters: [Parameter] = []) {
        self.infoHashes = infoHashes
        self.displayName = displayName
        self.trackers = trackers
        self.webSeeds = webSeeds
        self.peers = peers
        self.exactLength = exactLength
        self.selectOnly = selectOnly
        self.extraParameters = extraParameters
    }

    /// Bounds on what a link may hold.
    public enum Limits {
        /// The longest link accepted, in bytes.
        public static let maxLength = 64 * 1024
        /// The most parameters accepted.
        public static let maxParameters = 1000
    }
}

/// Why a string is not a usable magnet link.
public struct MagnetError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, in words.
    public let message: String
    /// The parameter at fault, if one is.
    public let parameter: String?

    public init(_ message: String, parameter: String? = nil) {
        self.message = message
        self.parameter = parameter
    }

    public var description: String {
        "invalid magnet link" + (parameter.map { " (parameter '\($0)')" } ?? "") + ": " + message
    }
}

extension MagnetLink {
    /// Parses a `magnet:?` URI.
    public init(parsing text: String) throws(MagnetError) {
        guard text.utf8.count <= Limits.maxLength else {
            throw MagnetError("longer than \(Limits.maxLength) bytes")
        }
        guard text.lowercased().hasPrefix("magnet:?") else { throw MagnetError("does not start with 'magnet:?'") }
        let query = text.dropFirst("magnet:?".count)
        let pairs = query.split(separator: "&", omittingEmptySubsequences: true)
        guard pairs.count <= Limits.maxParameters else { throw MagnetError("more than \(Limits.maxParameters) parameters") }

        self.init(infoHashes: InfoHashes())
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let rawKey = String(parts[0])
            guard let key = PercentEncoding.decodeText(rawKey, plusIsSpace: false) else {
                throw MagnetError("malformed percent-encoding", parameter: rawKey)
            }
            // `xt.1`, `tr.2`: BEP 9 allows numbered repeats of a parameter.
            let base = Self.baseKey(key)
            let rawValue = parts.count > 1 ? String(parts[1]) : ""
            guard let value = PercentEncoding.decodeText(rawValue, plusIsSpace: base == "dn") else {
                throw MagnetError("malformed percent-encoding", parameter: key)
            }
            switch base {
            case "xt": try addExactTopic(value, parameter: key)
            case "dn": displayName = value
            case "tr": if !value.isEmpty { trackers.append(value) }
            case "ws": if !value.isEmpty { webSeeds.append(value) }
            case "x.pe": if !value.isEmpty { peers.append(value) }
            case "xl":
                guard let length = Int64(value), length >= 0 else { throw MagnetError("not a byte count: '\(value)'", parameter: key) }
                exactLength = length
            case "so": selectOnly += try Self.parseSelection(value, parameter: key)
            default: extraParameters.append(Parameter(key: key, value: value))
            }
        }
        guard infoHashes.v1 != nil || infoHashes.v2 != nil else {
            throw MagnetError("no 'xt' parameter with a BitTorrent info-hash (urn:btih: or urn:btmh:)")
        }
    }

    private static func baseKey(_ key: String) -> String {
        guard key != "x.pe", let dot = key.lastIndex(of: "."), key[key.index(after: dot)...].allSatisfy(\.isNumber),
              dot != key.index(before: key.endIndex) else { return key }
        return String(key[..<dot])
    }

    private mutating func addExactTopic(_ value: String, parameter: String) throws(MagnetError) {
        let lower = value.lowercased()
        if lower.hasPrefix("urn:btih:") {
            let hash = value.dropFirst("urn:btih:".count)
            if hash.count == 40, let parsed = SHA1Hash(hex: hash) {
                infoHashes.v1 = parsed
            } else if hash.count == 32, let bytes = decodeBase32(hash), let parsed = SHA1Hash(bytes: bytes) {
                infoHashes.v1 = parsed
            } else {
                throw MagnetError("a btih hash must be 40 hex or 32 base32 characters", parameter: parameter)
            }
        } else if lower.hasPrefix("urn:btmh:") {
            // A multihash: 0x12 (SHA2-256), 0x20 (32 bytes), then the digest.
            guard let bytes = decodeHex(value.dropFirst("urn:btmh:".count)), bytes.count == 34,
                  bytes[0] == 0x12, bytes[1] == 0x20, let parsed = SHA256Hash(bytes: bytes[2...]) else {
                throw MagnetError("a btmh hash must be a SHA2-256 multihash in hex (1220 and 64 digits)", parameter: parameter)
            }
            infoHashes.v2 = parsed
        } else {
            extraParameters.append(Parameter(key: parameter, value: value))
        }
    }

    /// `0,2,4-6` into ranges of file indices.
    private static func parseSelection(_ value: String, parameter: String) throws(MagnetError) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        for item in value.split(separator: ",") {
            let ends = item.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            // File indices beyond 32 bits name no file of any torrent Shoal accepts.
            guard let low = Int(ends[0]), low >= 0, let high = ends.count == 2 ? Int(ends[1]) : low, high >= low,
                  high <= Int(Int32.max) else {
                throw MagnetError("'\(item)' is not a file index or range", parameter: parameter)
            }
            ranges.append(low...high)
        }
        return ranges
    }

    /// The link as a URI, hashes first.
    public var description: String {
        var parts: [String] = []
        if let v1 = infoHashes.v1 { parts.append("xt=urn:btih:\(v1.hex)") }
        if let v2 = infoHashes.v2 { parts.append("xt=urn:btmh:1220\(v2.hex)") }
        if let displayName { parts.append("dn=" + PercentEncoding.encode(displayName)) }
        if let exactLength { parts.append("xl=\(exactLength)") }
        parts += trackers.map { "tr=" + PercentEncoding.encode($0) }
        parts += webSeeds.map { "ws=" + PercentEncoding.encode($0) }
        parts += peers.map { "x.pe=" + PercentEncoding.encode($0) }
        if !selectOnly.isEmpty {
            parts.append("so=" + selectOnly.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ","))
        }
        parts += extraParameters.map { PercentEncoding.encode($0.key) + "=" + PercentEncoding.encode($0.value) }
        return "magnet:?" + parts.joined(separator: "&")
    }
}

/// RFC 4648 base32 (either case, no padding) into bytes; nil on any other character.
func decodeBase32(_ text: some StringProtocol) -> [UInt8]? {
    var bits: UInt32 = 0
    var bitCount = 0
    var out: [UInt8] = []
    for c in text.utf8 {
        let value: UInt8
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = c - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): value = c - UInt8(ascii: "a")
        case UInt8(ascii: "2")...UInt8(ascii: "7"): value = c - UInt8(ascii: "2") + 26
        default: return nil
        }
        bits = (bits << 5 | UInt32(value)) & 0xffff  // only the bits not yet emitted matter
        bitCount += 5
        if bitCount >= 8 {
            bitCount -= 8
            out.append(UInt8(truncatingIfNeeded: bits >> UInt32(bitCount)))
        }
    }
    return out
}
