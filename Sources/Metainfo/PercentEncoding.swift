/// URL percent-encoding (RFC 3986) of text and of raw bytes: magnet links carry text, tracker queries carry
/// binary info-hashes and peer ids.
public enum PercentEncoding {
    /// Escapes everything but RFC 3986's unreserved characters (and, when `keepingSlashAndColon`, `:` and `/`,
    /// which are safe in a query value and keep URLs inside magnet links readable).
    public static func encode(_ bytes: some Sequence<UInt8>, keepingSlashAndColon: Bool = true) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 3)
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: ":") where keepingSlashAndColon, UInt8(ascii: "/") where keepingSlashAndColon:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// ``encode(_:keepingSlashAndColon:)`` of the text's UTF-8 bytes.
    public static func encode(_ text: String) -> String { encode(text.utf8) }

    /// Decodes `%XX` escapes (and `+` as a space when asked); nil if an escape is malformed.
    public static func decode(_ bytes: some Sequence<UInt8>, plusIsSpace: Bool = false) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount)
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexDigitValue), let low = iterator.next().flatMap(hexDigitValue) else { return nil }
                out.append(high << 4 | low)
            } else if plusIsSpace, byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(byte)
            }
        }
        return out
    }

    /// ``decode(_:plusIsSpace:)`` read as UTF-8 text, repairing bad sequences.
    public static func decodeText(_ text: String, plusIsSpace: Bool) -> String? {
        decode(text.utf8, plusIsSpace: plusIsSpace).map { String(decoding: $0, as: UTF8.self) }
    }
}
