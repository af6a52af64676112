import Bencode

/// Why a datagram is not an acceptable KRPC message. Carries the transaction id when it could be read, so a
/// node can still answer a malformed query with error 203 (BEP 5).
public struct KRPCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Hashable {
        /// The datagram is larger than ``KRPCMessage/maxDatagramSize``.
        case datagramTooLarge(size: Int, limit: Int)
        /// Not bencode, or bencode beyond the decoder's limits (nesting, element count).
        case bencode(BencodeError)
        /// The top-level value, or the value of `key`, has the wrong kind.
        case wrongType(key: String, expected: String)
        /// A key the message cannot do without.
        case missingKey(String)
        /// A byte string whose length is not allowed for `key`.
        case wrongLength(key: String, length: Int, expected: String)
        /// More entries under `key` than the limit.
        case tooMany(key: String, count: Int, limit: Int)
        /// A value outside its range, such as a port above 65535.
        case outOfRange(key: String, value: Int64)
        /// `y` is none of `q`, `r`, `e`.
        case unknownMessageType([UInt8])
    }

    /// What went wrong.
    public let reason: Reason
    /// The message's transaction id, when it was readable.
    public let transactionID: TransactionID?

    public init(_ reason: Reason, transactionID: TransactionID? = nil) {
        self.reason = reason
        self.transactionID = transactionID
    }

    public var description: String {
        let what: String
        switch reason {
        case .datagramTooLarge(let size, let limit): what = "datagram of \(size) bytes exceeds the limit of \(limit)"
        case .bencode(let error): what = "\(error)"
        case .wrongType(let key, let expected): what = "'\(key)' is not a \(expected)"
        case .missingKey(let key): what = "missing '\(key)'"
        case .wrongLength(let key, let length, let expected): what = "'\(key)' has \(length) bytes, expected \(expected)"
        case .tooMany(let key, let count, let limit): what = "'\(key)' has \(count) entries, more than \(limit)"
        case .outOfRange(let key, let value): what = "'\(key)' is \(value), out of range"
        case .unknownMessageType(let y): what = "unknown message type '\(String(decoding: y, as: UTF8.self))'"
        }
        return "KRPC: \(what)"
    }
}

/// Why saved routing-table bytes cannot be loaded.
public struct RoutingTablePersistenceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong with the saved bytes.
    public let problem: String

    public init(_ problem: String) { self.problem = problem }

    public var description: String { "saved routing table: \(problem)" }
}
