/// Decodes bencode (BEP 3) with explicit limits.
///
/// ```swift
/// let value = try BencodeDecoder().decode(Array("d3:cow3:mooe".utf8))
/// ```
///
/// Integers must be canonical (no leading zeros, no `-0`) and fit in 64 bits. Dictionary keys must be unique,
/// and by default sorted; ``Options/requireSortedKeys`` can relax the order for documents such as torrent
/// files, whose hashes are taken over the original bytes anyway. Every rejection is a ``BencodeError`` that
/// names the byte offset.
public struct BencodeDecoder: Sendable {
    /// Bounds on what one document may hold. The defaults suit torrent files.
    public struct Limits: Sendable, Hashable {
        /// Largest accepted input, in bytes.
        public var maxInputSize: Int
        /// Longest accepted byte string.
        public var maxStringLength: Int
        /// Deepest nesting of lists and dictionaries; the top-level value is depth 1.
        public var maxDepth: Int
        /// Most values (of any kind, keys included) in one document.
        public var maxElements: Int

        public init(maxInputSize: Int = 64 << 20, maxStringLength: Int = 64 << 20, maxDepth: Int = 100,
                    maxElements: Int = 4_000_000) {
            self.maxInputSize = maxInputSize
            self.maxStringLength = maxStringLength
            self.maxDepth = maxDepth
            self.maxElements = maxElements
        }
    }

    /// How strict to be beyond the grammar.
    public struct Options: Sendable, Hashable {
        /// Reject dictionaries whose keys are not in ascending byte order.
        public var requireSortedKeys: Bool
        /// Reject bytes after the top-level value.
        public var rejectTrailingData: Bool

        public init(requireSortedKeys: Bool = true, rejectTrailingData: Bool = true) {
            self.requireSortedKeys = requireSortedKeys
            self.rejectTrailingData = rejectTrailingData
        }
    }

    public var limits: Limits
    public var options: Options

    public init(limits: Limits = Limits(), options: Options = Options()) {
        self.limits = limits
        self.options = options
    }

    /// Decodes one value from `bytes`.
    public func decode(_ bytes: [UInt8]) throws(BencodeError) -> BencodeValue {
        try decodePrefix(bytes).value
    }

    /// Decodes one value from the start of `bytes`, and tells where it ended. With ``Options/rejectTrailingData``
    /// on, the value must also fill the input.
    public func decodePrefix(_ bytes: [UInt8]) throws(BencodeError) -> (value: BencodeValue, end: Int) {
        guard bytes.count <= limits.maxInputSize else {
            throw BencodeError(.inputTooLarge(size: bytes.count, limit: limits.maxInputSize), at: 0)
        }
        return try bytes.withUnsafeBufferPointer { buffer throws(BencodeError) in
            var parser = Parser(input: buffer, limits: limits, options: options)
            let value = try parser.parseValue(depth: 1)
            if options.rejectTrailingData, parser.position != buffer.count {
                throw BencodeError(.trailingData, at: parser.position)
            }
            return (value, parser.position)
        }
    }
}

/// A recursive-descent parser over a buffer; recursion is bounded by `Limits.maxDepth`.
private struct Parser {
    let input: UnsafeBufferPointer<UInt8>
    let limits: BencodeDecoder.Limits
    let options: BencodeDecoder.Options
    var position = 0
    var elements = 0

    init(input: UnsafeBufferPointer<UInt8>, limits: BencodeDecoder.Limits, options: BencodeDecoder.Options) {
        self.input = input
        self.limits = limits
        self.options = options
    }

    func peek() throws(BencodeError) -> UInt8 {
        guard position < input.count else { throw BencodeError(.unexpectedEnd, at: position) }
        return input[position]
    }

    mutating func countElement() throws(BencodeError) {
        elements += 1
        if elements > limits.maxElements {
            throw BencodeError(.tooManyElements(limit: limits.maxElements), at: position)
        }
    }

    mutating func parseValue(depth: Int) throws(BencodeError) -> BencodeValue {
        guard depth <= limits.maxDepth else { throw BencodeError(.nestingTooDeep(limit: limits.maxDepth), at: position) }
        try countElement()
        let byte = try peek()
        switch byte {
        case UInt8(ascii: "i"):
            return .integer(try parseInteger())
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .string(try parseString())
        case UInt8(ascii: "l"):
            position += 1
            var values: [BencodeValue] = []
            var spans: [Range<Int>] = []
            while try peek() != UInt8(ascii: "e") {
                let start = position
                values.append(try parseValue(depth: depth + 1))
                spans.append(start..<position)
            }
            position += 1
            return .list(BencodeList(elements: values, spans: spans))
        case UInt8(ascii: "d"):
            position += 1
            return .dictionary(try parseDictionaryBody(depth: depth))
        default:
            throw BencodeError(.unexpectedByte(byte), at: position)
        }
    }

    mutating func parseDictionaryBody(depth: Int) throws(BencodeError) -> BencodeDictionary {
        var entries: [BencodeDictionary.Entry] = []
        var sorted = true
        var keyOffsets: [Int] = []
        while try peek() != UInt8(ascii: "e") {
            let keyStart = position
            let first = try peek()
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
                throw BencodeError(.keyNotString, at: keyStart)
            }
            try countElement()
            let key = try parseString()
            if let last = entries.last {
                let order = compareBytes(last.key, key)
                if order == 0 { throw BencodeError(.duplicateKey, at: keyStart) }
                if order > 0 {
                    if options.requireSortedKeys { throw BencodeError(.unsortedKey, at: keyStart) }
                    sorted = false
                }
            }
            let valueStart = position
            let value = try parseValue(depth: depth + 1)
            entries.append(.init(key: key, value: value, span: valueStart..<position))
            keyOffsets.append(keyStart)
        }
        position += 1
        if !sorted {
            // Keys arrived out of order: sort them (stably, by key) and still refuse duplicates.
            let order = entries.indices.sorted { compareBytes(entries[$0].key, entries[$1].key) < 0 }
            for (a, b) in zip(order, order.dropFirst()) where entries[a].key == entries[b].key {
                throw BencodeError(.duplicateKey, at: max(keyOffsets[a], keyOffsets[b]))
            }
            entries = order.map { entries[$0] }
        }
        return BencodeDictionary(sortedEntries: entries)
    }

    /// Reads `i<digits>e`.
    mutating func parseInteger() throws(BencodeError) -> Int64 {
        let start = position
        position += 1  // 'i'
        var negative = false
        if try peek() == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        let digitsStart = position
        var magnitude: UInt64 = 0
        while true {
            let byte = try peek()
            if byte == UInt8(ascii: "e") { break }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                throw BencodeError(.unexpectedByte(byte), at: position)
            }
            if position > digitsStart, input[digitsStart] == UInt8(ascii: "0") {
                throw BencodeError(.leadingZero, at: digitsStart)
            }
            guard let next = appendingDigit(magnitude, byte) else { throw BencodeError(.integerOverflow, at: start) }
            magnitude = next
            position += 1
        }
        guard position > digitsStart else { throw BencodeError(.emptyInteger, at: start) }
        position += 1  // 'e'
        if negative {
            guard magnitude != 0 else { throw BencodeError(.negativeZero, at: start) }
            guard magnitude <= UInt64(Int64.max) + 1 else { throw BencodeError(.integerOverflow, at: start) }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { throw BencodeError(.integerOverflow, at: start) }
        return Int64(magnitude)
    }

    /// Reads `<length>:<bytes>`.
    mutating func parseString() throws(BencodeError) -> [UInt8] {
        let start = position
        var length = 0
        while true {
            let byte = try peek()
            if byte == UInt8(ascii: ":") { break }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                throw BencodeError(.unexpectedByte(byte), at: position)
            }
            if position > start, input[start] == UInt8(ascii: "0") {
                throw BencodeError(.leadingZero, at: start)
            }
            // A length past Int.max is certainly past the limit; report it as the largest length.
            length = appendingDigit(length, byte) ?? Int.max
            position += 1
        }
        position += 1  // ':'
        guard length <= limits.maxStringLength else {
            throw BencodeError(.stringTooLong(length: length, limit: limits.maxStringLength), at: start)
        }
        // A declared length that runs past the input: the input ends inside this string.
        guard length <= input.count - position else { throw BencodeError(.unexpectedEnd, at: input.count) }
        let bytes = Array(input[position..<(position + length)])
        position += length
        return bytes
    }
}

/// `value` × 10 plus the ASCII digit `byte`, or nil on overflow.
private func appendingDigit<T: FixedWidthInteger>(_ value: T, _ byte: UInt8) -> T? {
    let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
    let (sum, overflow2) = times10.addingReportingOverflow(T(byte - UInt8(ascii: "0")))
    return overflow1 || overflow2 ? nil : sum
}
