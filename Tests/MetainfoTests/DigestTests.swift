import Testing
import Metainfo

@Suite("Digests, info-hashes and bitfields")
struct DigestTests {
    @Test func knownVectors() {
        #expect(SHA1Hash.of(raw("abc")).hex == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(SHA1Hash.of([]).hex == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(SHA256Hash.of(raw("abc")).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Hash.of([]).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let bytes = raw("abc")
        #expect(bytes.withUnsafeBytes { SHA1Hash.of($0) } == SHA1Hash.of(bytes))
        #expect(bytes.withUnsafeBytes { SHA256Hash.of($0) } == SHA256Hash.of(bytes))
    }

    @Test func hexAndBytes() throws {
        let hex = "a9993e364706816aba3e25717850c26c9cd0d89d"
        let hash = try #require(SHA1Hash(hex: hex))
        #expect(hash == SHA1Hash.of(raw("abc")))
        #expect(SHA1Hash(hex: hex.uppercased()) == hash)
        #expect(hash.description == hex)
        #expect(hash.bytes.count == 20)
        #expect(SHA1Hash(bytes: hash.bytes) == hash)
        #expect(SHA1Hash(hex: String(hex.dropLast())) == nil)
        #expect(SHA1Hash(hex: String(hex.dropLast(2))) == nil)
        #expect(SHA1Hash(hex: hex + "00") == nil)
        #expect(SHA1Hash(hex: "g" + String(hex.dropFirst())) == nil)
        #expect(SHA1Hash(bytes: [UInt8](repeating: 1, count: 19)) == nil)
        #expect(SHA256Hash(bytes: [UInt8](repeating: 1, count: 20)) == nil)
        #expect(SHA256Hash(hex: String(repeating: "ab", count: 32))?.bytes == [UInt8](repeating: 0xab, count: 32))
        // Only the digest's own bytes count: storage lanes past them stay zero.
        #expect(hash.storage[20] == 0 && hash.storage[31] == 0)
    }

    @Test func hexHelpers() {
        #expect(encodeHex([0x00, 0x0f, 0xab, 0xff]) == "000fabff")
        #expect(decodeHex("000FabfF") == [0x00, 0x0f, 0xab, 0xff])
        #expect(decodeHex("") == [])
        #expect(decodeHex("abc") == nil)
        #expect(decodeHex("zz") == nil)
        #expect(decodeHex("0x") == nil)
    }

    @Test func ordering() throws {
        let low = try #require(SHA1Hash(hex: "00" + String(repeating: "ff", count: 19)))
        let high = try #require(SHA1Hash(hex: "01" + String(repeating: "00", count: 19)))
        #expect(low < high)
        #expect(!(high < low))
        #expect(!(low < low))
        #expect([high, low].sorted() == [low, high])
    }

    @Test func infoHashes() {
        let v1 = SHA1Hash.of(raw("v1"))
        let v2 = SHA256Hash.of(raw("v2"))
        #expect(v2.truncated.bytes == Array(v2.bytes[..<20]))
        #expect(InfoHashes(v1: v1, v2: v2).wire == v1)
        #expect(InfoHashes(v2: v2).wire == v2.truncated)
        #expect(InfoHashes(v1: v1).wire == v1)
        #expect(InfoHashes().wire == nil)
        #expect(InfoHashes(v1: v1, v2: v2).description == "v1:\(v1.hex) v2:\(v2.hex)")
        #expect(InfoHashes(v2: v2).description == "v2:\(v2.hex)")
    }

    @Test func versions() {
        #expect(TorrentVersion.v1.hasV1 && !TorrentVersion.v1.hasV2)
        #expect(!TorrentVersion.v2.hasV1 && TorrentVersion.v2.hasV2)
        #expect(TorrentVersion.hybrid.hasV1 && TorrentVersion.hybrid.hasV2)
    }

    @Test func bitfield() throws {
        var field = Bitfield(count: 10)
        #expect(field.bytes == [0, 0])
        field[0] = true
        field[9] = true
        #expect(field.bytes == [0x80, 0x40])
        #expect(field[0] && field[9] && !field[1] && !field[8])
        #expect(field.setCount == 2)
        #expect(!field.isFull)
        field[0] = false
        #expect(field.bytes == [0x00, 0x40])
        for index in 0..<10 { field[PieceIndex(index)] = true }
        #expect(field.isFull)
        #expect(field.bytes == [0xff, 0xc0])

        #expect(Bitfield(bytes: [0xff, 0xc0], count: 10) == field)
        #expect(Bitfield(bytes: [0xff, 0xe0], count: 10) == nil)  // a spare bit is set
        #expect(Bitfield(bytes: [0xff, 0xc1], count: 10) == nil)
        #expect(Bitfield(bytes: [0xff], count: 10) == nil)  // too short
        #expect(Bitfield(bytes: [0xff, 0xc0, 0x00], count: 10) == nil)  // too long
        #expect(Bitfield(bytes: [0xff], count: 8)?.isFull == true)
        #expect(Bitfield(bytes: [], count: 0)?.isFull == true)
        #expect(Bitfield(count: 17).bytes.count == 3)
    }

    @Test func fileAttributes() {
        let all = FileAttributes(letters: raw("lhxp?"))
        #expect(all == [.padding, .executable, .hidden, .symlink])
        #expect(all.letters == "pxhl")
        #expect(FileAttributes(letters: raw("zq")).isEmpty)
        #expect(FileAttributes(letters: raw("x")) == .executable)
        #expect(FileAttributes.hidden.letters == "h")
    }

    @Test func indices() {
        let piece: PieceIndex = 5
        #expect(piece.advanced(by: 3) == PieceIndex(8))
        #expect(piece.distance(to: 2) == -3)
        #expect(Array(PieceIndex(1)..<PieceIndex(4)).map(\.value) == [1, 2, 3])
        #expect(FileIndex(2) < FileIndex(3))
        #expect(piece.description == "5")
    }
}
