/// Why bytes from a peer are not acceptable. The connection that sent them is to be closed with this reason.
public struct PeerWireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Reason: Sendable, Hashable {
        /// The handshake does not start with `\u{13}BitTorrent protocol`.
        case notBitTorrent
        /// A message longer than the limit.
        case messageTooLong(length: Int, limit: Int)
        /// A message whose payload has the wrong size for its id.
        case wrongPayloadLength(id: UInt8, length: Int, expected: String)
        /// An extension message with no extended id, or an extension payload that is not what it should be.
        case malformedExtension(String)
    }

    public let reason: Reason

    public init(_ reason: Reason) { self.reason = reason }

    public var description: String {
        switch reason {
        case .notBitTorrent: "peer wire: not a BitTorrent handshake"
        case .messageTooLong(let length, let limit): "peer wire: message of \(length) bytes exceeds the limit of \(limit)"
        case .wrongPayloadLength(let id, let length, let expected):
            "peer wire: message id \(id) has a payload of \(length) bytes, expected \(expected)"
        case .malformedExtension(let what): "peer wire: malformed extension message: \(what)"
        }
    }
}
