import Bencode

/// The UTF-8 bytes of `text`.
func raw(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The concatenation of byte arrays.
func concat(_ parts: [UInt8]...) -> [UInt8] { parts.flatMap { $0 } }

/// The error `decoder` reports for `input`, or nil when the input decodes.
func decodingError(_ input: [UInt8], with decoder: BencodeDecoder = BencodeDecoder()) -> BencodeError? {
    do {
        _ = try decoder.decode(input)
        return nil
    } catch {
        return error
    }
}

/// The error `decoder` reports for the UTF-8 bytes of `text`, or nil when they decode.
func decodingError(_ text: String, with decoder: BencodeDecoder = BencodeDecoder()) -> BencodeError? {
    decodingError(raw(text), with: decoder)
}

/// Whether `reason` is `.stringTooLong`, whatever its lengths.
func isStringTooLong(_ reason: BencodeError.Reason?) -> Bool {
    if case .stringTooLong? = reason { return true }
    return false
}

/// A decoder that accepts dictionary keys in any order.
let lenientDecoder = BencodeDecoder(options: .init(requireSortedKeys: false))
