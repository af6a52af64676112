import Testing
import Bencode

@Suite("Decoding: round trips of the four kinds")
struct DecoderRoundTripTests {
    let decoder = BencodeDecoder()

    @Test func integers() throws {
        let cases: [(Int64, String)] = [
            (0, "i0e"), (1, "i1e"), (-1, "i-1e"), (42, "i42e"), (-42, "i-42e"), (1_000_000_007, "i1000000007e"),
            (Int64.max, "i9223372036854775807e"), (Int64.min, "i-9223372036854775808e"),
        ]
        for (value, text) in cases {
            #expect(BencodeValue.integer(value).encoded() == raw(text), "encoding \(value)")
            #expect(try decoder.decode(raw(text)) == .integer(value), "decoding \(text)")
        }
    }

    @Test func byteStrings() throws {
        let cases: [[UInt8]] = [
            [], raw("spam"), [0x00, 0xff, 0x3a, 0x65, 0x69, 0x64],  // NUL, 0xff, ':', 'e', 'i', 'd'
            [UInt8](repeating: 0x41, count: 10), [UInt8](repeating: 0x7a, count: 1000),
        ]
        for value in cases {
            let encoded = BencodeValue.string(value).encoded()
            #expect(encoded == raw("\(value.count):") + value)
            let decoded = try decoder.decode(encoded)
            #expect(decoded == .string(value))
            #expect(decoded.bytes == value)
        }
        #expect(try decoder.decode(raw("0:")) == .string([]))
    }

    @Test func lists() throws {
        let value: BencodeValue = .list([
            .text("spam"), .integer(42), .list([]), .list([.list([.integer(-1)])]), .dictionary(["k": .text("v")]),
        ])
        let text = "l4:spami42elelli-1eeed1:k1:vee"
        #expect(value.encoded() == raw(text))
        #expect(try decoder.decode(raw(text)) == value)
        #expect(try decoder.decode(raw("le")) == .list([]))
        let list = try #require(try decoder.decode(raw(text)).list)
        #expect(list.count == 5)
        #expect(list[1] == .integer(42))
    }

    @Test func dictionaries() throws {
        // The examples of BEP 3.
        #expect(try decoder.decode(raw("d3:cow3:moo4:spam4:eggse")) == .dictionary(["cow": .text("moo"), "spam": .text("eggs")]))
        #expect(try decoder.decode(raw("d4:spaml1:a1:bee")) == .dictionary(["spam": .list([.text("a"), .text("b")])]))
        #expect(try decoder.decode(raw("de")) == .dictionary(BencodeDictionary()))

        let value: BencodeValue = .dictionary([
            "announce": .text("http://tracker/announce"),
            "info": .dictionary(["length": .integer(12), "name": .text("a.txt"), "piece length": .integer(16384)]),
            "list": .list([.integer(1), .dictionary(["x": .integer(-7)])]),
        ])
        let encoded = value.encoded()
        #expect(encoded == raw("d8:announce23:http://tracker/announce4:infod6:lengthi12e4:name5:a.txt12:piece lengthi16384ee4:listli1ed1:xi-7eeee"))
        let decoded = try decoder.decode(encoded)
        #expect(decoded == value)
        #expect(decoded.encoded() == encoded)
        #expect(decoded.dictionary?["info"]?.dictionary?["name"]?.utf8 == "a.txt")
        #expect(decoded.dictionary?["missing"] == nil)
    }

    @Test func accessorsAnswerOnlyForTheirKind() {
        let integer = BencodeValue.integer(5)
        let string = BencodeValue.text("é")
        let list = BencodeValue.list([.integer(1)])
        let dictionary = BencodeValue.dictionary(["a": .integer(1)])
        #expect(integer.integer == 5 && integer.bytes == nil && integer.list == nil && integer.dictionary == nil)
        #expect(string.bytes == [0xc3, 0xa9] && string.utf8 == "é" && string.integer == nil)
        #expect(list.list?.count == 1 && list.dictionary == nil && list.utf8 == nil)
        #expect(dictionary.dictionary?.count == 1 && dictionary.list == nil)
        #expect(BencodeValue.string([0xff, 0xfe]).utf8 == nil)
        #expect([integer.kindName, string.kindName, list.kindName, dictionary.kindName] == ["integer", "byte string", "list", "dictionary"])
    }

    @Test func decodePrefixReportsTheEnd() throws {
        let decoder = BencodeDecoder(options: .init(rejectTrailingData: false))
        let (value, end) = try decoder.decodePrefix(raw("li1eei2e"))
        #expect(value == .list([.integer(1)]))
        #expect(end == 5)
        #expect(try decoder.decode(raw("i7exyz")) == .integer(7))
        // A prefix that is not a whole value is still an error.
        #expect(decodingError("li1e", with: decoder) == BencodeError(.unexpectedEnd, at: 4))
        let (whole, wholeEnd) = try BencodeDecoder().decodePrefix(raw("3:abc"))
        #expect(whole == .text("abc") && wholeEnd == 5)
    }
}

@Suite("Decoding: every error reason at its exact offset")
struct DecoderErrorTests {
    @Test func integerErrors() {
        let cases: [(String, BencodeError)] = [
            ("i03e", BencodeError(.leadingZero, at: 1)),
            ("i00e", BencodeError(.leadingZero, at: 1)),
            ("i-03e", BencodeError(.leadingZero, at: 2)),
            ("i-00e", BencodeError(.leadingZero, at: 2)),
            ("li1ei012ee", BencodeError(.leadingZero, at: 5)),
            ("i-0e", BencodeError(.negativeZero, at: 0)),
            ("li1ei-0ee", BencodeError(.negativeZero, at: 4)),
            ("ie", BencodeError(.emptyInteger, at: 0)),
            ("i-e", BencodeError(.emptyInteger, at: 0)),
            ("l1:aiee", BencodeError(.emptyInteger, at: 4)),
            ("i1x3e", BencodeError(.unexpectedByte(UInt8(ascii: "x")), at: 2)),
            ("i--1e", BencodeError(.unexpectedByte(UInt8(ascii: "-")), at: 2)),
            ("i+1e", BencodeError(.unexpectedByte(UInt8(ascii: "+")), at: 1)),
            ("i 1e", BencodeError(.unexpectedByte(UInt8(ascii: " ")), at: 1)),
            ("i1-e", BencodeError(.unexpectedByte(UInt8(ascii: "-")), at: 2)),
            ("i1.5e", BencodeError(.unexpectedByte(UInt8(ascii: ".")), at: 2)),
            // Int64.max + 1, Int64.min - 1, 2^64 (beyond UInt64 too) and far beyond.
            ("i9223372036854775808e", BencodeError(.integerOverflow, at: 0)),
            ("i-9223372036854775809e", BencodeError(.integerOverflow, at: 0)),
            ("i18446744073709551616e", BencodeError(.integerOverflow, at: 0)),
            ("i-18446744073709551616e", BencodeError(.integerOverflow, at: 0)),
            ("i99999999999999999999999999999e", BencodeError(.integerOverflow, at: 0)),
            ("li0ei9223372036854775808ee", BencodeError(.integerOverflow, at: 4)),
        ]
        for (text, expected) in cases {
            #expect(decodingError(text) == expected, "decoding \(text)")
        }
    }

    @Test func integerBoundsAreAccepted() throws {
        let decoder = BencodeDecoder()
        #expect(try decoder.decode(raw("i9223372036854775807e")) == .integer(.max))
        #expect(try decoder.decode(raw("i-9223372036854775808e")) == .integer(.min))
        #expect(try decoder.decode(raw("i0e")) == .integer(0))
        #expect(try decoder.decode(raw("i-10e")) == .integer(-10))
    }

    @Test func stringErrors() {
        let cases: [(String, BencodeError)] = [
            ("03:abc", BencodeError(.leadingZero, at: 0)),
            ("00:", BencodeError(.leadingZero, at: 0)),
            ("l03:abce", BencodeError(.leadingZero, at: 1)),
            ("d1:a03:abce", BencodeError(.leadingZero, at: 4)),
            ("d01:ai1ee", BencodeError(.leadingZero, at: 1)),
            ("3abc", BencodeError(.unexpectedByte(UInt8(ascii: "a")), at: 1)),
            ("3-:abc", BencodeError(.unexpectedByte(UInt8(ascii: "-")), at: 1)),
            ("-3:abc", BencodeError(.unexpectedByte(UInt8(ascii: "-")), at: 0)),
            // Shorter than announced: the input ends inside the string.
            ("4:abc", BencodeError(.unexpectedEnd, at: 5)),
            ("l1:a9:abce", BencodeError(.unexpectedEnd, at: 10)),
        ]
        for (text, expected) in cases {
            #expect(decodingError(text) == expected, "decoding \(text)")
        }
    }

    @Test func absurdStringLengthsAreRefusedWithoutOverflow() {
        for text in ["99999999999999999999999999:x", "18446744073709551616:", "9223372036854775807:abc"] {
            let error = decodingError(text)
            #expect(isStringTooLong(error?.reason), "decoding \(text)")
            #expect(error?.offset == 0)
        }
        let nested = decodingError("l1:a99999999999999999999:xe")
        #expect(isStringTooLong(nested?.reason))
        #expect(nested?.offset == 4)
    }

    @Test func structuralErrors() {
        let cases: [(String, BencodeError)] = [
            ("", BencodeError(.unexpectedEnd, at: 0)),
            ("x", BencodeError(.unexpectedByte(UInt8(ascii: "x")), at: 0)),
            ("e", BencodeError(.unexpectedByte(UInt8(ascii: "e")), at: 0)),
            ("lxe", BencodeError(.unexpectedByte(UInt8(ascii: "x")), at: 1)),
            ("l", BencodeError(.unexpectedEnd, at: 1)),
            ("li1e", BencodeError(.unexpectedEnd, at: 4)),
            ("d", BencodeError(.unexpectedEnd, at: 1)),
            ("d1:a", BencodeError(.unexpectedEnd, at: 4)),
            ("d1:ai1e", BencodeError(.unexpectedEnd, at: 7)),
            ("i", BencodeError(.unexpectedEnd, at: 1)),
            ("i-", BencodeError(.unexpectedEnd, at: 2)),
            ("i12", BencodeError(.unexpectedEnd, at: 3)),
            ("3", BencodeError(.unexpectedEnd, at: 1)),
            ("3:", BencodeError(.unexpectedEnd, at: 2)),
            // Trailing data after a complete value.
            ("i1ei2e", BencodeError(.trailingData, at: 3)),
            ("dei", BencodeError(.trailingData, at: 2)),
            ("lee", BencodeError(.trailingData, at: 2)),
            ("4:spam ", BencodeError(.trailingData, at: 6)),
            ("i0e\u{0}", BencodeError(.trailingData, at: 3)),
        ]
        for (text, expected) in cases {
            #expect(decodingError(text) == expected, "decoding \(text.debugDescription)")
        }
    }

    @Test func keysMustBeStrings() {
        let cases: [(String, BencodeError)] = [
            ("di1ei2ee", BencodeError(.keyNotString, at: 1)),
            ("dle1:ae", BencodeError(.keyNotString, at: 1)),
            ("ddei1ee", BencodeError(.keyNotString, at: 1)),
            ("d1:ai1eli1eei2ee", BencodeError(.keyNotString, at: 7)),
            ("d1:ad1:bi1ei2ei3eee", BencodeError(.keyNotString, at: 11)),
        ]
        for (text, expected) in cases {
            #expect(decodingError(text) == expected, "decoding \(text)")
            #expect(decodingError(text, with: lenientDecoder) == expected, "decoding \(text) leniently")
        }
    }

    @Test func keysMustBeSortedAndUnique() {
        let cases: [(String, BencodeError)] = [
            ("d1:bi1e1:ai2ee", BencodeError(.unsortedKey, at: 7)),
            ("d2:abi1e1:ai2ee", BencodeError(.unsortedKey, at: 8)),  // a prefix sorts first
            ("d1:ai1e1:ci2e1:bi3ee", BencodeError(.unsortedKey, at: 13)),
            ("d1:ad1:bi1e1:ai2eee", BencodeError(.unsortedKey, at: 11)),  // nested
            ("d1:ai1e1:ai2ee", BencodeError(.duplicateKey, at: 7)),
            ("d0:i1e0:i2ee", BencodeError(.duplicateKey, at: 6)),
            ("d1:ai1e1:bd1:xi1e1:xi2eee", BencodeError(.duplicateKey, at: 17)),
        ]
        for (text, expected) in cases {
            #expect(decodingError(text) == expected, "decoding \(text)")
        }
    }

    @Test func keyOrderIsByUnsignedRawBytes() {
        // 'Z' (0x5a) before 'a' (0x61); 0x7f before 0xff, which a signed comparison would get wrong.
        #expect(decodingError("d1:Zi1e1:ai2ee") == nil)
        #expect(decodingError("d1:ai1e1:Zi2ee") == BencodeError(.unsortedKey, at: 7))
        let ascending = concat(raw("d1:"), [0x7f], raw("i1e1:"), [0xff], raw("i2ee"))
        let descending = concat(raw("d1:"), [0xff], raw("i1e1:"), [0x7f], raw("i2ee"))
        #expect(decodingError(ascending) == nil)
        #expect(decodingError(descending) == BencodeError(.unsortedKey, at: 7))
        // A decomposed "é" (0x65 0xcc 0x81) sorts before the precomposed one (0xc3 0xa9), although Swift strings
        // consider the two equal: keys are bytes.
        let twoEs: [UInt8] = raw("d3:e\u{301}i1e2:\u{e9}i2ee")
        #expect(decodingError(twoEs) == nil)
    }

    @Test func errorDescriptionNamesTheOffset() {
        let error = BencodeError(.unsortedKey, at: 1234)
        #expect(error.description.contains("1234"))
        #expect(BencodeError(.unexpectedByte(0x01), at: 0).description.contains("0x1"))
        #expect(error != BencodeError(.unsortedKey, at: 1235))
    }
}

@Suite("Decoding: lenient key order")
struct LenientDecodingTests {
    @Test func outOfOrderKeysAreSorted() throws {
        let text = "d1:ci3e1:ai1e2:bbi2e1:bi4ee"
        #expect(decodingError(text) == BencodeError(.unsortedKey, at: 7))
        let value = try lenientDecoder.decode(raw(text))
        let dictionary = try #require(value.dictionary)
        #expect(dictionary.entries.map(\.key) == [raw("a"), raw("b"), raw("bb"), raw("c")])
        #expect(dictionary["a"] == .integer(1))
        #expect(dictionary["b"] == .integer(4))
        #expect(dictionary["bb"] == .integer(2))
        #expect(dictionary["c"] == .integer(3))
        #expect(value.encoded() == raw("d1:ai1e1:bi4e2:bbi2e1:ci3ee"))
        // The sorted form now decodes strictly too.
        #expect(try BencodeDecoder().decode(value.encoded()) == value)
    }

    @Test func nestedDictionariesAreSortedToo() throws {
        let value = try lenientDecoder.decode(raw("d1:zd1:yi1e1:xi2ee1:ai0ee"))
        #expect(value.encoded() == raw("d1:ai0e1:zd1:xi2e1:yi1eee"))
    }

    @Test func duplicatesAreStillRefused() {
        let cases: [(String, BencodeError)] = [
            ("d1:ai1e1:ai2ee", BencodeError(.duplicateKey, at: 7)),  // adjacent
            ("d1:bi1e1:ai2e1:bi3ee", BencodeError(.duplicateKey, at: 13)),  // separated by an out-of-order key
            ("d1:ci1e1:ai2e1:ci3e1:bi4ee", BencodeError(.duplicateKey, at: 13)),
            ("d1:bi1e1:ai2e1:ai3ee", BencodeError(.duplicateKey, at: 13)),
            ("d1:zd1:bi1e1:ai2e1:bi3eee", BencodeError(.duplicateKey, at: 17)),  // nested
        ]
        for (text, expected) in cases {
            #expect(decodingError(text, with: lenientDecoder) == expected, "decoding \(text)")
        }
    }

    @Test func otherRulesStillApply() {
        #expect(decodingError("d1:bi1e1:ai01ee", with: lenientDecoder) == BencodeError(.leadingZero, at: 11))
        #expect(decodingError("d1:bi1e1:ai2eex", with: lenientDecoder) == BencodeError(.trailingData, at: 14))
        #expect(decodingError("d1:bi1ei1ei2ee", with: lenientDecoder) == BencodeError(.keyNotString, at: 7))
    }
}

@Suite("Decoding: spans of the original bytes")
struct SpanTests {
    /// Builds `d…e` from keys and raw value texts in the given order, and where each value stands.
    func document(_ parts: [(key: String, value: String)]) -> (bytes: [UInt8], spans: [String: Range<Int>]) {
        var output = raw("d")
        var spans: [String: Range<Int>] = [:]
        for (key, value) in parts {
            output += raw("\(key.utf8.count):\(key)")
            let start = output.count
            output += raw(value)
            spans[key] = start..<output.count
        }
        output += raw("e")
        return (output, spans)
    }

    @Test func dictionarySpansInCanonicalOrder() throws {
        let parts: [(key: String, value: String)] = [("alpha", "i42e"), ("beta", "5:hello"), ("gamma", "li1e1:xe"), ("zeta", "d1:ai-3ee")]
        let (input, expected) = document(parts)
        let dictionary = try #require(try BencodeDecoder().decode(input).dictionary)
        for (key, value) in parts {
            let span = try #require(dictionary.span(forKey: key))
            #expect(span == expected[key])
            #expect(Array(input[span]) == raw(value))
            #expect(try BencodeDecoder().decode(Array(input[span])) == dictionary[key])
        }
        #expect(dictionary.span(forKey: "absent") == nil)
    }

    @Test func dictionarySpansSurviveSortingOfNonCanonicalInput() throws {
        // Keys out of order, and a nested dictionary whose keys are out of order as well.
        let parts: [(key: String, value: String)] = [("zeta", "3:abc"), ("alpha", "i42e"), ("mid", "d1:yi1e1:xi2ee"), ("beta", "le")]
        let (input, expected) = document(parts)
        let value = try lenientDecoder.decode(input)
        let dictionary = try #require(value.dictionary)
        #expect(dictionary.entries.map(\.key) == [raw("alpha"), raw("beta"), raw("mid"), raw("zeta")])
        for (key, text) in parts {
            let span = try #require(dictionary.span(forKey: key))
            #expect(span == expected[key], "span of \(key)")
            #expect(Array(input[span]) == raw(text), "bytes of \(key)")
        }
        // The original bytes of "mid" are not its canonical encoding, and the span still points at them.
        let mid = try #require(dictionary.span(forKey: "mid"))
        #expect(Array(input[mid]) != dictionary["mid"]?.encoded())
        // Spans of the inner dictionary are offsets into the whole input.
        let inner = try #require(dictionary["mid"]?.dictionary)
        #expect(inner.span(forKey: "y").map { Array(input[$0]) } == raw("i1e"))
        #expect(inner.span(forKey: "x").map { Array(input[$0]) } == raw("i2e"))
        #expect(inner.span(forKey: "x").map { $0.lowerBound } == mid.lowerBound + 10)
        #expect(inner.span(forKey: "y").map { $0.lowerBound } == mid.lowerBound + 4)
    }

    @Test func listSpans() throws {
        let input = raw("li1e3:abcli2eedee")
        let list = try #require(try BencodeDecoder().decode(input).list)
        #expect((0..<4).map { list.span(at: $0) } == [1..<4, 4..<9, 9..<14, 14..<16])
        #expect(list.span(at: 4) == nil)
        #expect(list.span(at: -1) == nil)
        let nested = try #require(list[2].list)
        #expect(nested.span(at: 0) == 10..<13)
    }

    @Test func nestedSpansAreAbsolute() throws {
        let input = raw("d1:ali1ei2eee")
        let dictionary = try #require(try BencodeDecoder().decode(input).dictionary)
        #expect(dictionary.span(forKey: "a") == 4..<12)
        let list = try #require(dictionary["a"]?.list)
        #expect(list.span(at: 0) == 5..<8)
        #expect(list.span(at: 1) == 8..<11)
    }

    @Test func valuesBuiltInCodeHaveNoSpans() throws {
        let list: BencodeList = [.integer(1)]
        #expect(list.span(at: 0) == nil)
        let dictionary: BencodeDictionary = ["a": .integer(1)]
        #expect(dictionary.span(forKey: "a") == nil)

        // Equality never looks at spans.
        let decoded = try #require(try BencodeDecoder().decode(raw("li1ei2ee")).list)
        #expect(decoded.span(at: 0) != nil)
        #expect(decoded == [.integer(1), .integer(2)])

        // Replacing one value of a decoded dictionary forgets only that value's span.
        var map = try #require(try BencodeDecoder().decode(raw("d1:ai1e1:bi2ee")).dictionary)
        map["a"] = .integer(9)
        #expect(map.span(forKey: "a") == nil)
        #expect(map.span(forKey: "b") == 10..<13)
        map["0"] = .integer(0)
        #expect(map.span(forKey: "b") == 10..<13)
    }
}

@Suite("Decoding: limits")
struct DecoderLimitTests {
    @Test func nestingDepth() {
        let decoder = BencodeDecoder(limits: .init(maxDepth: 3))
        // The top-level value is depth 1: an integer inside two lists is at depth 3.
        #expect(decodingError("lli1eee", with: decoder) == nil)
        #expect(decodingError("d1:ad1:ai1eee", with: decoder) == nil)
        // One more level puts the integer at depth 4: it is refused where it starts.
        #expect(decodingError("llli1eeee", with: decoder) == BencodeError(.nestingTooDeep(limit: 3), at: 3))
        #expect(decodingError("d1:ad1:ad1:ai1eeee", with: decoder) == BencodeError(.nestingTooDeep(limit: 3), at: 12))
        #expect(decodingError("li1eld1:ai1eeee", with: decoder) == BencodeError(.nestingTooDeep(limit: 3), at: 9))
        // An empty container at the deepest level is fine.
        #expect(decodingError("llleee", with: decoder) == nil)
        #expect(decodingError("le", with: BencodeDecoder(limits: .init(maxDepth: 1))) == nil)
    }

    @Test func hostileNestingFailsCleanlyAtTheDefaultLimit() {
        let depth = 100_000
        let input = [UInt8](repeating: UInt8(ascii: "l"), count: depth) + [UInt8](repeating: UInt8(ascii: "e"), count: depth)
        let error = decodingError(input)
        #expect(error?.reason == .nestingTooDeep(limit: 100))
        #expect(error.map { $0.offset < 101 } == true)
        let dictionaries = Array(Array(repeating: raw("d1:a"), count: 5000).joined())
        #expect(decodingError(dictionaries)?.reason == .nestingTooDeep(limit: 100))
        // Well inside the limit, deep nesting decodes.
        let shallow = [UInt8](repeating: UInt8(ascii: "l"), count: 50) + [UInt8](repeating: UInt8(ascii: "e"), count: 50)
        #expect(decodingError(shallow) == nil)
    }

    @Test func elementCount() {
        let three = BencodeDecoder(limits: .init(maxElements: 3))
        #expect(decodingError("li1ei2ee", with: three) == nil)  // the list and two integers
        #expect(decodingError("li1ei2ei3ee", with: three) == BencodeError(.tooManyElements(limit: 3), at: 7))
        #expect(decodingError("d1:ai1ee", with: three) == nil)  // dictionary, key, value
        let two = BencodeDecoder(limits: .init(maxElements: 2))
        #expect(decodingError("d1:ai1ee", with: two) == BencodeError(.tooManyElements(limit: 2), at: 4))
        let one = BencodeDecoder(limits: .init(maxElements: 1))
        #expect(decodingError("d1:ai1ee", with: one) == BencodeError(.tooManyElements(limit: 1), at: 1))
        #expect(decodingError("i5e", with: one) == nil)
        let zero = BencodeDecoder(limits: .init(maxElements: 0))
        #expect(decodingError("i5e", with: zero) == BencodeError(.tooManyElements(limit: 0), at: 0))
    }

    @Test func stringLength() {
        let decoder = BencodeDecoder(limits: .init(maxStringLength: 3))
        #expect(decodingError("3:abc", with: decoder) == nil)
        #expect(decodingError("4:abcd", with: decoder) == BencodeError(.stringTooLong(length: 4, limit: 3), at: 0))
        #expect(decodingError("l1:a4:abcde", with: decoder) == BencodeError(.stringTooLong(length: 4, limit: 3), at: 4))
        // Keys are strings too.
        #expect(decodingError("d4:abcdi1ee", with: decoder) == BencodeError(.stringTooLong(length: 4, limit: 3), at: 1))
        // Refused by length before the missing bytes matter.
        #expect(decodingError("10:abc", with: decoder) == BencodeError(.stringTooLong(length: 10, limit: 3), at: 0))
        let empty = BencodeDecoder(limits: .init(maxStringLength: 0))
        #expect(decodingError("0:", with: empty) == nil)
        #expect(decodingError("1:a", with: empty) == BencodeError(.stringTooLong(length: 1, limit: 0), at: 0))
    }

    @Test func inputSize() {
        let decoder = BencodeDecoder(limits: .init(maxInputSize: 4))
        #expect(decodingError("i12e", with: decoder) == nil)
        #expect(decodingError("i123e", with: decoder) == BencodeError(.inputTooLarge(size: 5, limit: 4), at: 0))
        // The size is checked before anything else, even for bytes that are not bencode at all.
        #expect(decodingError("xxxxxxxx", with: decoder) == BencodeError(.inputTooLarge(size: 8, limit: 4), at: 0))
    }

    @Test func defaultLimits() {
        let limits = BencodeDecoder.Limits()
        #expect(limits.maxInputSize == 64 << 20)
        #expect(limits.maxStringLength == 64 << 20)
        #expect(limits.maxDepth == 100)
        #expect(limits.maxElements == 4_000_000)
        let options = BencodeDecoder.Options()
        #expect(options.requireSortedKeys && options.rejectTrailingData)
    }
}

@Suite("Decoding: truncated and mutated input")
struct TruncationTests {
    /// A valid document whose strings are all shorter than 10 bytes (single-digit lengths).
    let document: BencodeValue = .dictionary([
        "announce": .text("http://t"),
        "info": .dictionary([
            "length": .integer(-12345),
            "name": .text("a.txt"),
            "pieces": .list([.text("ab"), .list([.integer(0)]), .dictionary([:]), .text("")]),
        ]),
        "z": .list([]),
    ])

    @Test func everyTruncationEndsUnexpectedlyAtItsLength() throws {
        let bytes = document.encoded()
        #expect(try BencodeDecoder().decode(bytes) == document)
        for length in 0..<bytes.count {
            let prefix = Array(bytes[..<length])
            #expect(decodingError(prefix) == BencodeError(.unexpectedEnd, at: length), "prefix of \(length) bytes")
            #expect(decodingError(prefix, with: BencodeDecoder(options: .init(requireSortedKeys: false, rejectTrailingData: false)))
                == BencodeError(.unexpectedEnd, at: length))
        }
    }

    @Test func everyTruncationOfADocumentWithLongStringsIsAnError() throws {
        let long: BencodeValue = .dictionary([
            "comment": .string([UInt8](repeating: 0x61, count: 150)),
            "info": .dictionary(["name": .text("twelve bytes"), "pieces": .string([UInt8](repeating: 0xff, count: 1200))]),
        ])
        let bytes = long.encoded()
        #expect(try BencodeDecoder().decode(bytes) == long)
        for length in 0..<bytes.count {
            let error = decodingError(Array(bytes[..<length]))
            #expect(error != nil, "prefix of \(length) bytes")
            #expect(error.map { $0.offset <= length } == true, "prefix of \(length) bytes")
        }
    }

    @Test func mutationsEitherFailOrDecodeCanonically() {
        // Whatever the strict decoder accepts is canonical, so it must re-encode to exactly the input.
        let bytes = document.encoded()
        let replacements = concat(raw("eidl:0159-x"), [0x00, 0xff])
        for index in bytes.indices {
            var deleted = bytes
            deleted.remove(at: index)
            var candidates = [deleted]
            for replacement in replacements where replacement != bytes[index] {
                var changed = bytes
                changed[index] = replacement
                candidates.append(changed)
            }
            for candidate in candidates {
                if let error = decodingError(candidate) {
                    #expect(error.offset >= 0 && error.offset <= candidate.count, "mutation at \(index)")
                } else {
                    let value = try? BencodeDecoder().decode(candidate)
                    #expect(value?.encoded() == candidate, "mutation at \(index)")
                }
            }
        }
    }
}
