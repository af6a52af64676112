import Testing
import Bencode
import Metainfo

/// Whether `component` is safe to create below a download folder on any common file system.
func isSafeComponent(_ component: String) -> Bool {
    !component.isEmpty && component != "." && component != ".." && component.utf8.count <= PathRule.maxComponentBytes
        && !component.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f || $0 == "/" || $0 == "\\" }
}

@Suite("PathRule: one component at a time")
struct PathRuleComponentTests {
    /// Hostile components and what the rule makes of them (nil: dropped).
    static let table: [(input: [UInt8], expected: String?)] = [
        (raw(".."), nil),
        (raw("."), nil),
        (raw(""), nil),
        (raw("..."), "..."),
        (raw(".hidden"), ".hidden"),
        (raw("/etc/passwd"), "_etc_passwd"),
        (raw("/"), "_"),
        (raw("../../etc"), ".._.._etc"),
        (raw("..\\..\\windows"), ".._.._windows"),
        (raw("a\\b"), "a_b"),
        (raw("a\u{0}b"), "a_b"),
        (raw("\t\n\r"), "___"),
        (raw("x\u{1}\u{1f}\u{7f}y"), "x___y"),
        (raw("CON"), "_CON"),
        (raw("con"), "_con"),
        (raw("CoN.txt"), "_CoN.txt"),
        (raw("nul.txt"), "_nul.txt"),
        (raw("NUL.tar.gz"), "_NUL.tar.gz"),
        (raw("PRN"), "_PRN"),
        (raw("aux.c"), "_aux.c"),
        (raw("LPT1"), "_LPT1"),
        (raw("lpt9.log"), "_lpt9.log"),
        (raw("COM0"), "_COM0"),
        (raw("com7"), "_com7"),
        (raw("COM10"), "COM10"),
        (raw("CONSOLE"), "CONSOLE"),
        (raw("xCON"), "xCON"),
        (raw("LPT"), "LPT"),
        (raw("\u{e9}t\u{e9}"), "\u{e9}t\u{e9}"),
        ([0xff], "\u{FFFD}"),
        ([0x66, 0xff, 0x6f], "f\u{FFFD}o"),
        ([0xc3], "\u{FFFD}"),  // a truncated sequence
        ([0x61, 0xc3, 0xa9], "a\u{e9}"),
        ([0xc0, 0xaf], "\u{FFFD}\u{FFFD}"),  // an overlong "/", which must not become a separator
        ([0x2e, 0x2e, 0x00], ".._"),
    ]

    @Test func hostileComponents() {
        for (input, expected) in Self.table {
            let result = PathRule.sanitize(component: input)
            #expect(result == expected, "component \(input)")
            if let result { #expect(isSafeComponent(result), "component \(input)") }
        }
    }

    @Test func limits() {
        #expect(PathRule.maxDepth == 128)
        #expect(PathRule.maxComponentBytes == 255)
    }

    @Test func longNamesKeepTheirExtension() throws {
        // 300 bytes: 296 letters and ".txt".
        let name = String(repeating: "a", count: 296) + ".txt"
        let result = try #require(PathRule.sanitize(component: raw(name)))
        #expect(result.utf8.count == 255)
        #expect(result == String(repeating: "a", count: 251) + ".txt")
    }

    @Test func longNamesAreCutAtCharacterBoundaries() throws {
        // 150 two-byte characters: 300 bytes, cut to 127 characters (254 bytes) rather than mid-character.
        let accented = try #require(PathRule.sanitize(component: raw(String(repeating: "\u{e9}", count: 150))))
        #expect(accented == String(repeating: "\u{e9}", count: 127))
        #expect(accented.utf8.count == 254)

        // With an extension: 148 "é" and ".txt" make 300 bytes; 125 "é" fit beside the extension.
        let withExtension = try #require(PathRule.sanitize(component: raw(String(repeating: "\u{e9}", count: 148) + ".txt")))
        #expect(withExtension == String(repeating: "\u{e9}", count: 125) + ".txt")

        // A family emoji is one character of 18 bytes (a ZWJ sequence): it is never split.
        let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}"
        #expect(family.utf8.count == 18)
        let emoji = try #require(PathRule.sanitize(component: raw(String(repeating: family, count: 20))))
        #expect(emoji == String(repeating: family, count: 14))
        #expect(emoji.utf8.count == 252)
    }

    @Test func longExtensionsAreNotKept() throws {
        // An "extension" over 32 bytes is just part of the name.
        let name = String(repeating: "a", count: 10) + "." + String(repeating: "b", count: 289)
        #expect(name.utf8.count == 300)
        let result = try #require(PathRule.sanitize(component: raw(name)))
        #expect(result == String(name.prefix(255)))
        // A leading dot is not an extension either.
        let hidden = "." + String(repeating: "h", count: 299)
        #expect(PathRule.sanitize(component: raw(hidden)) == String(hidden.prefix(255)))
    }

    @Test func namesOfExactlyTheLimitAreKept() {
        let name = String(repeating: "n", count: 251) + ".bin"
        #expect(PathRule.sanitize(component: raw(name)) == name)
        let over = String(repeating: "n", count: 252) + ".bin"
        #expect(PathRule.sanitize(component: raw(over)) == String(repeating: "n", count: 251) + ".bin")
    }

    @Test func longReservedNamesKeepTheirPrefix() throws {
        let name = "CON." + String(repeating: "x", count: 300)
        let result = try #require(PathRule.sanitize(component: raw(name)))
        #expect(result.hasPrefix("_CON."))
        #expect(result.utf8.count <= 255)
    }

    @Test func paths() {
        #expect(PathRule.sanitize(path: [raw(".."), raw("."), raw("")]) == nil)
        #expect(PathRule.sanitize(path: []) == nil)
        #expect(PathRule.sanitize(path: [raw("a"), raw(".."), raw("b")]) == ["a", "b"])
        #expect(PathRule.sanitize(path: [raw(".."), raw(".."), raw("etc"), raw("passwd")]) == ["etc", "passwd"])
        #expect(PathRule.sanitize(path: [raw("/etc/passwd")]) == ["_etc_passwd"])
    }
}

@Suite("PathRule: hostile paths in torrents")
struct HostileTorrentPathTests {
    @Test func hostilePathsLoadSafely() throws {
        let cases: [(path: [[UInt8]], expected: [String])] = [
            ([raw(".."), raw(".."), raw("etc"), raw("passwd")], ["t", "etc", "passwd"]),
            ([raw("/etc/passwd")], ["t", "_etc_passwd"]),
            ([raw("a"), raw(""), raw("."), raw("b")], ["t", "a", "b"]),
            ([raw("a\u{0}b")], ["t", "a_b"]),
            ([raw("x\u{1}\u{1f}\u{7f}y")], ["t", "x___y"]),
            ([raw("..\\..\\windows")], ["t", ".._.._windows"]),
            ([raw("CON")], ["t", "_CON"]),
            ([raw("nul.txt")], ["t", "_nul.txt"]),
            ([raw("LPT1")], ["t", "_LPT1"]),
            ([[0x66, 0xff, 0x6f]], ["t", "f\u{FFFD}o"]),
            ([raw(String(repeating: "y", count: 296) + ".mkv")], ["t", String(repeating: "y", count: 251) + ".mkv"]),
        ]
        let info = try loadInfo(v1MultiInfo(files: cases.map { V1File(rawPath: $0.path) }))
        #expect(info.files.map(\.path) == cases.map(\.expected))
        for file in info.files {
            #expect(file.path.allSatisfy(isSafeComponent), "\(file.path)")
        }
    }

    @Test func hostileNamesAreMadeSafe() throws {
        #expect(try loadInfo(v1SingleInfo(name: "..", length: 1)).name == "_")
        #expect(try loadInfo(v1SingleInfo(name: "", length: 1)).files.map(\.path) == [["_"]])
        #expect(try loadInfo(v1SingleInfo(name: "../../.bashrc", length: 1)).name == ".._.._.bashrc")
        let multi = try loadInfo(v1MultiInfo(name: "/abs", files: [V1File(["f"])]))
        #expect(multi.name == "_abs")
        #expect(multi.files.map(\.path) == [["_abs", "f"]])
    }

    @Test func v2FileTreesAreMadeSafeToo() throws {
        let tree: BencodeDictionary = [
            "..": .dictionary(["evil": v2File(length: 1)]),
            "/etc/passwd": v2File(length: 2),
            "nul": v2File(length: 3),
        ]
        let info = try loadInfo(v2Info(tree: tree))
        #expect(info.files.map(\.path) == [["t", "evil"], ["t", "_etc_passwd"], ["t", "_nul"]])
        // A single-file tree whose only key is hostile.
        let single = try loadInfo(v2Info(name: "x", tree: ["../x": v2File(length: 1)]))
        #expect(single.isSingleFile)
        #expect(single.files.map(\.path) == [[".._x"]])
    }

    @Test func pathsWithNothingLeftAreRefused() {
        let error = infoError(v1MultiInfo(files: [V1File(["a"]), V1File(["..", ".", ""])]))
        #expect(error?.reason.isInvalidValue == true)
        #expect(error?.key == "info.files[1].path")
        #expect(infoError(v1MultiInfo(files: [V1File([])]))?.reason.isInvalidValue == true)
        #expect(infoError(v2Info(tree: ["..": v2File(length: 1)]))?.reason.isInvalidValue == true)
    }

    @Test func pathsTooDeepAreRefused() {
        let deep = [String](repeating: "d", count: 129)
        let error = infoError(v1MultiInfo(files: [V1File(deep)]))
        #expect(error?.reason.isInvalidValue == true)
        #expect(error?.key == "info.files[0].path")
        #expect(infoError(v1MultiInfo(files: [V1File(Array(deep.dropLast()))])) == nil)
    }

    @Test func duplicatesAfterSanitisingAreRefused() {
        let cases: [[V1File]] = [
            [V1File(["a"]), V1File(["a"])],
            [V1File(["a/b"]), V1File(["a_b"])],
            [V1File(["x", "..", "y"]), V1File(["x", "y"])],
            [V1File([".", "f"]), V1File(["f"])],
            [V1File(["a\u{0}"]), V1File(["a\u{1}"])],
            [V1File(["CON"]), V1File(["_CON"])],
            [V1File(["\u{e9}"]), V1File(["e\u{301}"])],  // canonically equivalent names
        ]
        for files in cases {
            let error = infoError(v1MultiInfo(files: files))
            #expect(error?.reason.isInconsistent == true, "\(files.map(\.path))")
            #expect(error?.key == "info")
        }
        let tree: BencodeDictionary = ["a/b": v2File(length: 1), "a_b": v2File(length: 1)]
        #expect(infoError(v2Info(tree: tree))?.reason.isInconsistent == true)
    }

    @Test func aFileThatIsAlsoAFolderIsRefused() {
        let cases: [[V1File]] = [
            [V1File(["a"]), V1File(["a", "b"])],
            [V1File(["a", "b"]), V1File(["a"])],
            [V1File(["a", "b", "c"]), V1File(["a", "b"])],
            [V1File(["a", "..", "b"]), V1File(["b", "c"]), V1File(["x"])],  // "a/../b" becomes "a/b"; "b/c" is fine
            [V1File(["a"]), V1File(["..", "a", "c"])],
        ]
        for (index, files) in cases.enumerated() {
            let error = infoError(v1MultiInfo(files: files))
            if index == 3 {
                #expect(error == nil)
            } else {
                #expect(error?.reason.isInconsistent == true, "case \(index)")
            }
        }
    }

    @Test func paddingFilesMayShareAPath() throws {
        let info = try loadInfo(v1MultiInfo(files: [
            V1File(["a"]), V1File([".pad", "1"], attr: "p"), V1File(["b"]), V1File([".pad", "1"], attr: "p"),
            V1File(["_____padding_file_0_"]), V1File(["c"]),
        ]))
        #expect(info.files.map(\.isPadding) == [false, true, false, true, true, false])
        #expect(info.totalSize == 3)
    }

    @Test func symlinkTargetsStayRelative() throws {
        let info = try loadInfo(v1MultiInfo(files: [
            V1File(["data"], length: 4),
            V1File(["up"], length: 0, attr: "l", symlink: ["..", "..", "etc", "passwd"]),
            V1File(["abs"], length: 0, attr: "l", symlink: ["/etc/passwd"]),
            V1File(["sibling"], length: 0, attr: "l", symlink: ["data"]),
            V1File(["plain"], length: 0, symlink: ["data"]),  // no "l" attribute: not a link
        ]))
        let targets = info.files.map(\.symlinkTarget)
        #expect(targets == [nil, ["t", "etc", "passwd"], ["t", "_etc_passwd"], ["t", "data"], nil])
        #expect(info.files[1].attributes.contains(.symlink))
        for target in targets.compactMap({ $0 }) {
            #expect(target.first == "t")
            #expect(target.allSatisfy(isSafeComponent))
        }

        let v2 = try loadInfo(v2Info(tree: [
            "data": v2File(length: 4),
            "link": v2File(length: 0, attr: "l", symlink: ["..", "/", "data"]),
        ]))
        #expect(v2.files.map(\.symlinkTarget) == [nil, ["t", "_", "data"]])
    }
}
