import Bencode

/// libFuzzer entry: any bytes either fail with a typed error or decode to a value that re-encodes to exactly
/// the same bytes (the strict decoder accepts canonical input only).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBencode(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let decoder = BencodeDecoder(limits: .init(maxInputSize: 1 << 20, maxStringLength: 1 << 20, maxDepth: 64, maxElements: 100_000))
    guard let value = try? decoder.decode(bytes) else { return 0 }
    precondition(value.encoded() == bytes, "strictly decoded input did not re-encode to itself")
    let lenient = BencodeDecoder(limits: decoder.limits, options: .init(requireSortedKeys: false))
    precondition((try? lenient.decode(bytes)) == value, "lenient decoding disagrees with strict decoding")
    return 0
}
