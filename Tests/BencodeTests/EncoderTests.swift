import Testing
import Bencode

@Suite("Encoding")
struct EncoderTests {
    @Test func keysAreSortedByRawBytes() throws {
        // Inserted out of order. Raw byte order puts "" first, uppercase before lowercase, a prefix before its
        // extensions, and the decomposed "é" (0x65 0xcc 0x81) before the precomposed one (0xc3 0xa9), which Swift
        // string comparison would call equal.
        var dictionary = BencodeDictionary()
        for key in ["b", "\u{e9}", "a", "e\u{301}", "B", "aa", ""] {
            dictionary[key] = .integer(Int64(key.utf8.count))
        }
        #expect(dictionary.count == 7)
        #expect(dictionary.entries.map(\.key) == [raw(""), raw("B"), raw("a"), raw("aa"), raw("b"), raw("e\u{301}"), raw("\u{e9}")])
        let expected = raw("d0:i0e1:Bi1e1:ai1e2:aai2e1:bi1e3:e\u{301}i3e2:\u{e9}i2ee")
        #expect(BencodeValue.dictionary(dictionary).encoded() == expected)
        // What the encoder writes is what the strict decoder accepts.
        #expect(try BencodeDecoder().decode(expected) == .dictionary(dictionary))
    }

    @Test func nonUTF8KeysSortAsUnsignedBytes() {
        var dictionary = BencodeDictionary()
        dictionary[[0xff]] = .integer(3)
        dictionary[[0x80]] = .integer(2)
        dictionary[[0x7f]] = .integer(1)
        dictionary[[0x00]] = .integer(0)
        let expected = concat(raw("d1:"), [0x00], raw("i0e1:"), [0x7f], raw("i1e1:"), [0x80], raw("i2e1:"), [0xff], raw("i3ee"))
        #expect(BencodeValue.dictionary(dictionary).encoded() == expected)
        #expect(dictionary[[0x80]] == .integer(2))
        #expect(dictionary[[0x81]] == nil)
    }

    @Test func dictionaryLiteralAndSubscriptKeepKeysUnique() {
        var dictionary: BencodeDictionary = ["zebra": .integer(1), "apple": .integer(2), "mango": .integer(3)]
        #expect(BencodeValue.dictionary(dictionary).encoded() == raw("d5:applei2e5:mangoi3e5:zebrai1ee"))
        dictionary["mango"] = .text("ripe")
        #expect(dictionary.count == 3)
        #expect(dictionary["mango"] == .text("ripe"))
        dictionary["apple"] = nil
        #expect(dictionary.count == 2)
        #expect(dictionary["apple"] == nil)
        dictionary["absent"] = nil
        #expect(dictionary.count == 2)
        #expect(BencodeValue.dictionary(dictionary).encoded() == raw("d5:mango4:ripe5:zebrai1ee"))
        // Text and byte keys name the same entry.
        #expect(dictionary[raw("zebra")] == .integer(1))
    }

    @Test func nestedValuesAreEncodedRecursively() {
        let value: BencodeValue = .dictionary([
            "z": .list([.dictionary(["y": .integer(0), "x": .list([])]), .text("")]),
            "a": .integer(.min),
        ])
        #expect(value.encoded() == raw("d1:ai-9223372036854775808e1:zld1:xle1:yi0ee0:ee"))
    }

    @Test func encodeIntoAppends() {
        var output = raw("prefix")
        BencodeValue.integer(7).encode(into: &output)
        BencodeValue.text("ab").encode(into: &output)
        #expect(output == raw("prefixi7e2:ab"))
        var spliced: [UInt8] = []
        BencodeValue.encodeString(raw("info"), into: &spliced)
        BencodeValue.encodeString([UInt8](), into: &spliced)
        BencodeValue.encodeString(raw("0123456789ab")[2...], into: &spliced)
        #expect(spliced == raw("4:info0:10:23456789ab"))
    }

    @Test func decodedNonCanonicalInputIsReencodedCanonically() throws {
        let value = try lenientDecoder.decode(raw("d1:bl1:y1:xe1:ai0ee"))
        // Lists keep their order; only dictionary keys are sorted.
        #expect(value.encoded() == raw("d1:ai0e1:bl1:y1:xee"))
    }

    @Test func equalityIgnoresSpans() throws {
        let decoded = try BencodeDecoder().decode(raw("ld1:ai1eei2ee"))
        let built: BencodeValue = .list([.dictionary(["a": .integer(1)]), .integer(2)])
        #expect(decoded == built)
        #expect(decoded.hashValue == built.hashValue)
        #expect(decoded != .list([.dictionary(["a": .integer(1)]), .integer(3)]))
        #expect(BencodeValue.integer(1) != .text("1"))
        #expect(BencodeValue.list([]) != .dictionary(BencodeDictionary()))
    }
}
