import Bencode

/// Why a torrent file or its parts cannot be used, and which key is at fault.
public struct MetainfoError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Hashable {
        /// The bytes are not valid bencode.
        case bencode(BencodeError)
        /// A required key is absent.
        case missingKey
        /// A key holds the wrong kind of value.
        case wrongType(expected: String, found: String)
        /// A key holds a value outside what is allowed.
        case invalidValue(String)
        /// `meta version` names a version this implementation does not know.
        case unsupportedMetaVersion(Int64)
        /// Parts of the torrent disagree with each other.
        case inconsistent(String)
    }

    public let reason: Reason
    /// The key path at fault, such as `info.files[3].length`; nil when the whole document is at fault.
    public let key: String?

    public init(_ reason: Reason, key: String? = nil) {
        self.reason = reason
        self.key = key
    }

    public var description: String {
        let at = key.map { " at key '\($0)'" } ?? ""
        switch reason {
        case .bencode(let error): return "torrent is not valid bencode: \(error)"
        case .missingKey: return "torrent lacks a required key\(at)"
        case .wrongType(let expected, let found): return "torrent has a \(found) where a \(expected) belongs\(at)"
        case .invalidValue(let message): return "torrent has an invalid value\(at): \(message)"
        case .unsupportedMetaVersion(let version): return "torrent uses meta version \(version), which Shoal does not support"
        case .inconsistent(let message): return "torrent is inconsistent\(at): \(message)"
        }
    }
}

/// Typed reads from a dictionary that report the key path on failure.
struct DictionaryReader {
    let dictionary: BencodeDictionary
    let path: String

    init(_ dictionary: BencodeDictionary, path: String) {
        self.dictionary = dictionary
        self.path = path
    }

    init(_ value: BencodeValue, path: String) throws(MetainfoError) {
        guard case .dictionary(let dictionary) = value else {
            throw MetainfoError(.wrongType(expected: "dictionary", found: value.kindName), key: path)
        }
        self.init(dictionary, path: path)
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func value(_ key: String) -> BencodeValue? { dictionary[key] }

    func required(_ key: String) throws(MetainfoError) -> BencodeValue {
        guard let value = dictionary[key] else { throw MetainfoError(.missingKey, key: keyPath(key)) }
        return value
    }

    func integer(_ key: String) throws(MetainfoError) -> Int64? {
        guard let value = dictionary[key] else { return nil }
        guard case .integer(let number) = value else {
            throw MetainfoError(.wrongType(expected: "integer", found: value.kindName), key: keyPath(key))
        }
        return number
    }

    func bytes(_ key: String) throws(MetainfoError) -> [UInt8]? {
        guard let value = dictionary[key] else { return nil }
        guard case .string(let bytes) = value else {
            throw MetainfoError(.wrongType(expected: "byte string", found: value.kindName), key: keyPath(key))
        }
        return bytes
    }

    /// Text fields such as `comment`: invalid UTF-8 is repaired rather than refused, since they are advisory.
    func text(_ key: String) throws(MetainfoError) -> String? {
        try bytes(key).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Old torrents may carry a `key.utf-8` twin of a text key; it wins when present.
    func utf8Variant(of key: String) -> String { dictionary[key + ".utf-8"] != nil ? key + ".utf-8" : key }

    func list(_ key: String) throws(MetainfoError) -> BencodeList? {
        guard let value = dictionary[key] else { return nil }
        guard case .list(let list) = value else {
            throw MetainfoError(.wrongType(expected: "list", found: value.kindName), key: keyPath(key))
        }
        return list
    }

    func dictionary(_ key: String) throws(MetainfoError) -> DictionaryReader? {
        guard let value = dictionary[key] else { return nil }
        return try DictionaryReader(value, path: keyPath(key))
    }
}
