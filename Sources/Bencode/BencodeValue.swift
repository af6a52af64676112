/// One bencoded value (BEP 3): an integer, a byte string, a list or a dictionary.
///
/// Values built in code and values decoded from bytes are the same type. A decoded list or dictionary also
/// remembers where each of its elements stood in the input (see ``BencodeList/span(at:)`` and
/// ``BencodeDictionary/span(forKey:)``), so a caller can hash the original bytes of a value, such as a
/// torrent's `info` dictionary, even when they were not canonical. Spans take no part in equality.
public enum BencodeValue: Sendable, Hashable {
    /// An integer. Bencode sets no bound; Shoal accepts what fits in 64 bits and rejects the rest.
    case integer(Int64)
    /// A byte string. Often UTF-8 text, but not always: keep it as bytes.
    case string([UInt8])
    /// A list of values.
    case list(BencodeList)
    /// A dictionary whose keys are byte strings, kept in sorted order.
    case dictionary(BencodeDictionary)
}

extension BencodeValue {
    /// A byte string holding the UTF-8 bytes of `text`.
    public static func text(_ text: String) -> BencodeValue { .string(Array(text.utf8)) }

    /// The integer, if this is one.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The bytes, if this is a byte string.
    public var bytes: [UInt8]? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The byte string decoded as UTF-8, if this is a byte string holding valid UTF-8.
    public var utf8: String? {
        guard case .string(let value) = self else { return nil }
        return String(validating: value, as: UTF8.self)
    }

    /// The list, if this is one.
    public var list: BencodeList? {
        if case .list(let value) = self { return value }
        return nil
    }

    /// The dictionary, if this is one.
    public var dictionary: BencodeDictionary? {
        if case .dictionary(let value) = self { return value }
        return nil
    }

    /// A short name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .integer: "integer"
        case .string: "byte string"
        case .list: "list"
        case .dictionary: "dictionary"
        }
    }
}

/// A bencoded list, with the byte span of each element when it was decoded.
public struct BencodeList: Sendable, Hashable, RandomAccessCollection, ExpressibleByArrayLiteral {
    /// The elements, in order.
    public let elements: [BencodeValue]
    private let spans: [Range<Int>]

    /// A list of `elements`, with no spans.
    public init(_ elements: [BencodeValue]) {
        self.elements = elements
        self.spans = []
    }

    public init(arrayLiteral elements: BencodeValue...) { self.init(elements) }

    init(elements: [BencodeValue], spans: [Range<Int>]) {
        self.elements = elements
        self.spans = spans
    }

    public var startIndex: Int { elements.startIndex }
    public var endIndex: Int { elements.endIndex }
    public subscript(position: Int) -> BencodeValue { elements[position] }

    /// Where element `index` stood in the decoded input, or nil for a list built in code.
    public func span(at index: Int) -> Range<Int>? {
        spans.indices.contains(index) ? spans[index] : nil
    }

    public static func == (lhs: BencodeList, rhs: BencodeList) -> Bool { lhs.elements == rhs.elements }
    public func hash(into hasher: inout Hasher) { hasher.combine(elements) }
}

/// A bencoded dictionary. Keys are byte strings, kept sorted as raw bytes and unique, as BEP 3 asks of an
/// encoding; a decoded dictionary also keeps the byte span of each value.
public struct BencodeDictionary: Sendable, Hashable, ExpressibleByDictionaryLiteral {
    /// One key and its value.
    public struct Entry: Sendable, Hashable {
        public var key: [UInt8]
        public var value: BencodeValue
        /// Where the value stood in the decoded input; nil for an entry set in code.
        public var span: Range<Int>?

        public static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.key == rhs.key && lhs.value == rhs.value }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(key)
            hasher.combine(value)
        }
    }

    /// The entries, sorted by key.
    public private(set) var entries: [Entry]

    /// An empty dictionary.
    public init() { entries = [] }

    public init(dictionaryLiteral elements: (String, BencodeValue)...) {
        entries = []
        for (key, value) in elements { self[key] = value }
    }

    /// Entries already sorted by key and unique; the decoder vouches for both.
    init(sortedEntries: [Entry]) { entries = sortedEntries }

    /// The number of entries.
    public var count: Int { entries.count }

    /// The value for a key given as bytes.
    public subscript(key: [UInt8]) -> BencodeValue? {
        get { find(key).found.map { entries[$0].value } }
        set {
            let (index, found) = find(key)
            switch (found, newValue) {
            case (let i?, let value?): entries[i] = Entry(key: key, value: value, span: nil)
            case (let i?, nil): entries.remove(at: i)
            case (nil, let value?): entries.insert(Entry(key: key, value: value, span: nil), at: index)
            case (nil, nil): break
            }
        }
    }

    /// The value for a key given as text (its UTF-8 bytes).
    public subscript(key: String) -> BencodeValue? {
        get { self[Array(key.utf8)] }
        set { self[Array(key.utf8)] = newValue }
    }

    /// Where the value for `key` stood in the decoded input.
    public func span(forKey key: String) -> Range<Int>? {
        find(Array(key.utf8)).found.flatMap { entries[$0].span }
    }

    /// Binary search: the index of `key` if present, and where it would be inserted.
    private func find(_ key: [UInt8]) -> (insertAt: Int, found: Int?) {
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            let order = compareBytes(entries[mid].key, key)
            if order == 0 { return (mid, mid) }
            if order < 0 { low = mid + 1 } else { high = mid }
        }
        return (low, nil)
    }

    public static func == (lhs: BencodeDictionary, rhs: BencodeDictionary) -> Bool { lhs.entries == rhs.entries }
    public func hash(into hasher: inout Hasher) { hasher.combine(entries) }
}

/// Compares byte strings as raw bytes, the order BEP 3 gives dictionary keys: negative, zero or positive.

func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    let n = min(a.count, b.count)
    for i in 0..<n where a[i] != b[i] {
        return a[i] < b[i] ? -1 : 1
    }
    return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
}
