import Metainfo

/// The 20 bytes a peer names itself with in the handshake and to trackers.
public struct PeerID: Sendable, Hashable, CustomStringConvertible {
    /// The bytes, always 20.
    public let bytes: [UInt8]

    /// A peer id from exactly 20 bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 20 else { return nil }
        self.bytes = Array(bytes)
    }

    /// For ids built here, whose length is right by construction.
    private init(exactly bytes: [UInt8]) {
        precondition(bytes.count == 20)
        self.bytes = bytes
    }

    /// Shoal's own id in Azureus style: `-SH` + four version digits + `-` + 12 random characters, so other
    /// clients can tell which program and version they talk to.
    public static func shoal(version: (major: Int, minor: Int, patch: Int) = (0, 1, 0),
                             using generator: inout some RandomNumberGenerator) -> PeerID {
        // One digit each for major, minor and patch, then a build digit: 0.1.0 is `-SH0100-`.
        let digits = [version.major, version.minor, version.patch, 0].map { String(max(0, $0) % 10) }.joined()
        let prefix = Array("-SH\(digits)-".utf8)
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        let tail = (0..<(20 - prefix.count)).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] }
        return PeerID(exactly: prefix + tail)
    }

    /// Shoal's own id, with the system's random numbers.
    public static func shoal() -> PeerID {
        var generator = SystemRandomNumberGenerator()
        return shoal(using: &generator)
    }

    /// The client named by an Azureus-style id (`-XX1234-`) as its code and four version characters, such as
    /// `qB 4.6.5.0`; nil for ids of other styles.
    public var azureusClient: String? {
        guard bytes[0] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[1...6].allSatisfy({ (0x21..<0x7f).contains($0) }) else { return nil }
        let code = String(decoding: bytes[1...2], as: UTF8.self)
        let version = bytes[3...6].map { String(UnicodeScalar($0)) }.joined(separator: ".")
        return "\(code) \(version)"
    }

    public var description: String {
        bytes.allSatisfy({ (0x20..<0x7f).contains($0) }) ? String(decoding: bytes, as: UTF8.self) : encodeHex(bytes)
    }
}
