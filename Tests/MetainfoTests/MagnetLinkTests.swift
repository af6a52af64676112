import Testing
import Metainfo

/// What `MagnetLink(parsing:)` says of `text`: nil when it parses.
func magnetError(_ text: String) -> MagnetError? {
    do {
        _ = try MagnetLink(parsing: text)
        return nil
    } catch {
        return error
    }
}

@Suite("MagnetLink")
struct MagnetLinkTests {
    /// A v1 info-hash in hex, and the same 20 bytes in RFC 4648 base32.
    static let hex = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a"
    static let base32 = "YEX6DQDLXISUVHOJ6UM3GNNKPQJWPKEK"
    /// A v2 info-hash (the SHA-256 of "abc").
    static let v2Hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

    let v1: SHA1Hash
    let v2: SHA256Hash

    init() throws {
        v1 = try #require(SHA1Hash(hex: Self.hex))
        v2 = try #require(SHA256Hash(hex: Self.v2Hex))
    }

    @Test func hexInfoHash() throws {
        let link = try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.hex)")
        #expect(link.infoHashes == InfoHashes(v1: v1))
        #expect(link.infoHashes.wire == v1)
        #expect(link.displayName == nil)
        #expect(link.trackers.isEmpty && link.webSeeds.isEmpty && link.peers.isEmpty)
        #expect(link.exactLength == nil)
        #expect(link.selectOnly.isEmpty && link.extraParameters.isEmpty)
        #expect(try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.hex.uppercased())").infoHashes.v1 == v1)
        #expect(try MagnetLink(parsing: "MAGNET:?xt=URN:BTIH:\(Self.hex)").infoHashes.v1 == v1)
        // The whole value may be percent-encoded.
        #expect(try MagnetLink(parsing: "magnet:?xt=urn%3Abtih%3A\(Self.hex)").infoHashes.v1 == v1)
    }

    @Test func base32InfoHash() throws {
        #expect(try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.base32)").infoHashes.v1 == v1)
        #expect(try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.base32.lowercased())").infoHashes.v1 == v1)
    }

    @Test func v2InfoHash() throws {
        let link = try MagnetLink(parsing: "magnet:?xt=urn:btmh:1220\(Self.v2Hex)")
        #expect(link.infoHashes.v1 == nil)
        #expect(link.infoHashes.v2 == v2)
        #expect(link.infoHashes.wire == v2.truncated)
        #expect(link.description == "magnet:?xt=urn:btmh:1220\(Self.v2Hex)")
    }

    @Test func hybridInfoHashes() throws {
        let link = try MagnetLink(parsing: "magnet:?xt=urn:btmh:1220\(Self.v2Hex)&dn=x&xt=urn:btih:\(Self.hex)")
        #expect(link.infoHashes == InfoHashes(v1: v1, v2: v2))
        #expect(link.infoHashes.wire == v1)
        #expect(link.description == "magnet:?xt=urn:btih:\(Self.hex)&xt=urn:btmh:1220\(Self.v2Hex)&dn=x")
        // BEP 9's numbered form.
        let numbered = try MagnetLink(parsing: "magnet:?xt.1=urn:btih:\(Self.hex)&xt.2=urn:btmh:1220\(Self.v2Hex)")
        #expect(numbered.infoHashes == InfoHashes(v1: v1, v2: v2))
        #expect(numbered.extraParameters.isEmpty)
    }

    @Test func displayNameDecoding() throws {
        let link = try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.hex)&dn=Hello+World%20%26%20more%21")
        #expect(link.displayName == "Hello World & more!")
        let utf8 = try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.hex)&dn=%C3%A9t%C3%A9+%E2%9C%93")
        #expect(utf8.displayName == "\u{e9}t\u{e9} \u{2713}")
        // '+' means a space only in the name; in a URL it stays a '+'.
        let tracker = try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.hex)&tr=http%3A%2F%2Ft.example%2Fa+b")
        #expect(tracker.trackers == ["http://t.example/a+b"])
    }

    @Test func repeatedAndNumberedParameters() throws {
        let text = "magnet:?xt=urn:btih:\(Self.hex)"
            + "&tr=udp%3A%2F%2Fa.example%3A80&tr.1=http://b.example/announce&tr.2=http://c.example/x&tr="
            + "&ws=http://w1.example/&ws.1=http://w2.example/"
            + "&x.pe=1.2.3.4:6881&x.pe.1=[::1]:51413&x.pe=host.example:1"
        let link = try MagnetLink(parsing: text)
        #expect(link.trackers == ["udp://a.example:80", "http://b.example/announce", "http://c.example/x"])
        #expect(link.webSeeds == ["http://w1.example/", "http://w2.example/"])
        #expect(link.peers == ["1.2.3.4:6881", "[::1]:51413", "host.example:1"])
        #expect(link.extraParameters.isEmpty)
    }

    @Test func exactLengthAndSelection() throws {
        let link = try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.hex)&xl=1234567890123&so=0,2,4-6")
        #expect(link.exactLength == 1_234_567_890_123)
        #expect(link.selectOnly == [0...0, 2...2, 4...6])
        let more = try MagnetLink(parsing: "magnet:?xt=urn:btih:\(Self.hex)&so=3&so.1=7-8,10")
        #expect(more.selectOnly == [3...3, 7...8, 10...10])
        #expect(link.description.hasSuffix("&so=0,2,4-6"))
        #expect(link.description.contains("&xl=1234567890123"))
    }

    @Test func unknownParametersAreKeptAndWrittenBack() throws {
        let text = "magnet:?xt=urn:btih:\(Self.hex)&foo=bar%20baz&x.custom=1&kt=a+b&xt=urn:sha1:ABC&flag&tr.x=y"
        let link = try MagnetLink(parsing: text)
        #expect(link.extraParameters == [
            .init(key: "foo", value: "bar baz"), .init(key: "x.custom", value: "1"), .init(key: "kt", value: "a+b"),
            .init(key: "xt", value: "urn:sha1:ABC"), .init(key: "flag", value: ""), .init(key: "tr.x", value: "y"),
        ])
        #expect(link.trackers.isEmpty)
        let written = link.description
        #expect(written.contains("&foo=bar%20baz"))
        #expect(written.contains("&x.custom=1"))
        #expect(written.contains("&kt=a%2Bb"))
        #expect(written.contains("&xt=urn:sha1:ABC"))
        #expect(try MagnetLink(parsing: written) == link)
    }

    @Test func exactDescription() {
        let link = MagnetLink(infoHashes: InfoHashes(v1: v1), displayName: "a b", trackers: ["http://t/a?x=1&y=2"])
        #expect(link.description == "magnet:?xt=urn:btih:\(Self.hex)&dn=a%20b&tr=http://t/a%3Fx%3D1%26y%3D2")
        let full = MagnetLink(infoHashes: InfoHashes(v1: v1, v2: v2), displayName: "n", trackers: ["t"], webSeeds: ["w"],
                              peers: ["p:1"], exactLength: 5, selectOnly: [1...1, 3...4],
                              extraParameters: [.init(key: "k", value: "v")])
        #expect(full.description == "magnet:?xt=urn:btih:\(Self.hex)&xt=urn:btmh:1220\(Self.v2Hex)&dn=n&xl=5&tr=t&ws=w&x.pe=p:1&so=1,3-4&k=v")
    }

    @Test func roundTripOfDescription() throws {
        let link = MagnetLink(
            infoHashes: InfoHashes(v1: v1, v2: v2),
            displayName: "\u{dc}n\u{ef}code & stuff + 100% / ok? #1 = \u{65e5}\u{672c}",
            trackers: ["udp://tracker.example:1337/announce", "http://t.example/ann?passkey=a&b=c d"],
            webSeeds: ["https://seed.example/path with space/"],
            peers: ["10.0.0.1:6881", "[2001:db8::1]:6881"],
            exactLength: 0,
            selectOnly: [0...0, 3...5, 9...9],
            extraParameters: [.init(key: "x y", value: "a&b=c%d+e"), .init(key: "empty", value: "")])
        let parsed = try MagnetLink(parsing: link.description)
        #expect(parsed == link)
        #expect(parsed.description == link.description)
        // Nothing that would split the query survives unescaped in a value.
        let query = link.description.dropFirst("magnet:?".count)
        // Two xt, dn, xl, two tr, ws, two x.pe, so and two extra parameters.
        #expect(query.split(separator: "&").count == 12)
    }

    @Test func errors() {
        let tooLong = "magnet:?xt=urn:btih:\(Self.hex)&tr=" + String(repeating: "a", count: 70_000)
        let tooMany = "magnet:?xt=urn:btih:\(Self.hex)" + String(repeating: "&x=1", count: 1_000)
        let cases: [String] = [
            "",
            "http://example.com/?xt=urn:btih:\(Self.hex)",
            "magnet:xt=urn:btih:\(Self.hex)",
            "magnet:?",
            "magnet:?dn=name&tr=http://t/",
            "magnet:?xt=urn:sha1:ABCDEF",
            "magnet:?xt=urn:btih:abc",
            "magnet:?xt=urn:btih:\(Self.hex.dropLast())",
            "magnet:?xt=urn:btih:\(Self.hex)0",
            "magnet:?xt=urn:btih:\(String(repeating: "z", count: 40))",
            "magnet:?xt=urn:btih:\(Self.base32.dropLast())",
            "magnet:?xt=urn:btih:\(Self.base32)A",
            "magnet:?xt=urn:btih:0\(Self.base32.dropFirst())",  // '0' is not a base32 digit
            "magnet:?xt=urn:btih:1\(Self.base32.dropFirst())",
            "magnet:?xt=urn:btih:8\(Self.base32.dropFirst())",
            "magnet:?xt=urn:btmh:\(Self.v2Hex)",  // no multihash prefix
            "magnet:?xt=urn:btmh:1220\(Self.v2Hex.dropLast(2))",
            "magnet:?xt=urn:btmh:1220\(Self.v2Hex)00",
            "magnet:?xt=urn:btmh:1120\(Self.v2Hex)",  // SHA-1's multihash code
            "magnet:?xt=urn:btmh:1221\(Self.v2Hex)",
            "magnet:?xt=urn:btmh:1220\(Self.v2Hex.dropLast())g",
            "magnet:?xt=urn:btih:\(Self.hex)&dn=%zz",
            "magnet:?xt=urn:btih:\(Self.hex)&dn=abc%4",
            "magnet:?xt=urn:btih:\(Self.hex)&dn=abc%",
            "magnet:?xt=urn:btih:\(Self.hex)&tr=%G0",
            "magnet:?xt=urn:btih:\(Self.hex)&%zz=1",
            "magnet:?xt=urn:btih:\(Self.hex)&xl=-1",
            "magnet:?xt=urn:btih:\(Self.hex)&xl=abc",
            "magnet:?xt=urn:btih:\(Self.hex)&xl=",
            "magnet:?xt=urn:btih:\(Self.hex)&xl=99999999999999999999",
            "magnet:?xt=urn:btih:\(Self.hex)&so=5-3",
            "magnet:?xt=urn:btih:\(Self.hex)&so=a",
            "magnet:?xt=urn:btih:\(Self.hex)&so=-1",
            "magnet:?xt=urn:btih:\(Self.hex)&so=1-",
            "magnet:?xt=urn:btih:\(Self.hex)&so=1-2-3",
            tooLong,
            tooMany,
        ]
        for text in cases {
            #expect(magnetError(text) != nil, "\(text.prefix(100))")
        }
        // The control cases just inside the limits parse.
        #expect(magnetError("magnet:?xt=urn:btih:\(Self.hex)" + String(repeating: "&x=1", count: 999)) == nil)
        #expect(magnetError("magnet:?xt=urn:btih:\(Self.hex)&so=1-1&xl=0") == nil)
    }

    @Test func errorsNameTheParameter() {
        #expect(magnetError("magnet:?xt=urn:btih:abc")?.parameter == "xt")
        #expect(magnetError("magnet:?xt.1=urn:btih:abc")?.parameter == "xt.1")
        #expect(magnetError("magnet:?xt=urn:btmh:1220")?.parameter == "xt")
        #expect(magnetError("magnet:?xt=urn:btih:\(Self.hex)&dn=%zz")?.parameter == "dn")
        #expect(magnetError("magnet:?xt=urn:btih:\(Self.hex)&%zz=1")?.parameter == "%zz")
        #expect(magnetError("magnet:?xt=urn:btih:\(Self.hex)&xl=abc")?.parameter == "xl")
        #expect(magnetError("magnet:?xt=urn:btih:\(Self.hex)&so=5-3")?.parameter == "so")
        #expect(magnetError("magnet:?dn=x")?.parameter == nil)
        let error = MagnetError("bad", parameter: "xt")
        #expect(error.description.contains("xt") && error.description.contains("bad"))
    }
}
