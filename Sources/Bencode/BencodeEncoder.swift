extension BencodeValue {
    /// The canonical encoding: shortest integers, dictionary keys sorted and unique.
    public func encoded() -> [UInt8] {
        var output: [UInt8] = []
        encode(into: &output)
        return output
    }

    /// Appends the canonical encoding to `output`.
    public func encode(into output: inout [UInt8]) {
        switch self {
        case .integer(let value):
            output.append(UInt8(ascii: "i"))
            output.append(contentsOf: String(value).utf8)
            output.append(UInt8(ascii: "e"))
        case .string(let bytes):
            Self.encodeString(bytes, into: &output)
        case .list(let list):
            output.append(UInt8(ascii: "l"))
            for element in list { element.encode(into: &output) }
            output.append(UInt8(ascii: "e"))
        case .dictionary(let dictionary):
            output.append(UInt8(ascii: "d"))
            for entry in dictionary.entries {
                Self.encodeString(entry.key, into: &output)
                entry.value.encode(into: &output)
            }
            output.append(UInt8(ascii: "e"))
        }
    }

    /// Appends `<length>:<bytes>`; for callers that splice raw encoded values into a dictionary they write.
    public static func encodeString(_ bytes: some Collection<UInt8>, into output: inout [UInt8]) {
        output.append(contentsOf: String(bytes.count).utf8)
        output.append(UInt8(ascii: ":"))
        output.append(contentsOf: bytes)
    }
}
