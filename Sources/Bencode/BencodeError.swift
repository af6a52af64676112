/// Why some bytes are not acceptable bencode, and where.
public struct BencodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Hashable {
        /// The input ended inside a value.
        case unexpectedEnd
        /// A byte that cannot start or continue a value here.
        case unexpectedByte(UInt8)
        /// An integer written with a leading zero, such as `i03e` or `03:abc`.
        case leadingZero
        /// `i-0e`, which BEP 3 forbids.
        case negativeZero
        /// `ie` or `i-e`.
        case emptyInteger
        /// An integer beyond 64 bits.
        case integerOverflow
        /// A string longer than the limit. (One that only runs past the end of the input is ``unexpectedEnd``.)
        case stringTooLong(length: Int, limit: Int)
        /// Lists and dictionaries nested deeper than the limit.
        case nestingTooDeep(limit: Int)
        /// More values in the document than the limit.
        case tooManyElements(limit: Int)
        /// The whole input is larger than the limit.
        case inputTooLarge(size: Int, limit: Int)
        /// A dictionary key that is not a byte string.
        case keyNotString
        /// A dictionary key that is not greater than the one before it.
        case unsortedKey
        /// The same dictionary key twice.
        case duplicateKey
        /// Bytes left over after the top-level value.
        case trailingData
    }

    /// What went wrong.
    public let reason: Reason
    /// The byte offset in the input where the problem was found.
    public let offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch reason {
        case .unexpectedEnd: what = "input ends inside a value"
        case .unexpectedByte(let byte):
            let shown = (0x20..<0x7f).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "0x" + String(byte, radix: 16)
            what = "unexpected byte \(shown)"
        case .leadingZero: what = "number with a leading zero"
        case .negativeZero: what = "negative zero (i-0e)"
        case .emptyInteger: what = "integer without digits"
        case .integerOverflow: what = "integer does not fit in 64 bits"
        case .stringTooLong(let length, let limit): what = "string of \(length) bytes exceeds the limit of \(limit)"
        case .nestingTooDeep(let limit): what = "nesting deeper than \(limit)"
        case .tooManyElements(let limit): what = "more than \(limit) values"
        case .inputTooLarge(let size, let limit): what = "input of \(size) bytes exceeds the limit of \(limit)"
        case .keyNotString: what = "dictionary key is not a string"
        case .unsortedKey: what = "dictionary keys out of order"
        case .duplicateKey: what = "duplicate dictionary key"
        case .trailingData: what = "data after the end of the value"
        }
        return "bencode: \(what) at byte \(offset)"
    }
}
