import Metainfo

/// Write tokens for `get_peers` replies, checked when the same address later sends `announce_peer` (BEP 5), so
/// that nobody can announce an address they cannot receive at.
///
/// A token is the first 8 bytes of SHA-1(secret ‖ the requester's IP bytes). The secret changes every 5 minutes
/// and the one before stays valid, so a token is accepted for 5 to 10 minutes, as BEP 5 describes. Nothing is
/// stored per requester. Time is passed in; secrets come from `Source`.
public struct TokenIssuer<Source: RandomNumberGenerator & Sendable>: Sendable {
    /// How often the secret changes.
    public static var rotationInterval: Duration { .seconds(5 * 60) }
    /// Bytes in a token: enough that guessing one is hopeless, short enough to keep replies small.
    public static var tokenLength: Int { 8 }

    private var source: Source
    private var current: [UInt8]
    private var previous: [UInt8]
    private var rotatedAt: ContinuousClock.Instant

    /// An issuer whose first secret is valid from `now`.
    public init(now: ContinuousClock.Instant, source: Source) {
        self.source = source
        current = Self.secret(from: &self.source)
        previous = Self.secret(from: &self.source)
        rotatedAt = now
    }

    /// The token to give `ip` at `now`.
    public mutating func token(for ip: IPAddress, now: ContinuousClock.Instant) -> [UInt8] {
        rotateIfDue(now: now)
        return Self.token(secret: current, ip: ip)
    }

    /// Whether `token` was given to `ip` under the secret in force at `now` or the one before.
    public func isValid(_ token: [UInt8], for ip: IPAddress, now: ContinuousClock.Instant) -> Bool {
        // Secrets due to rotate by `now` are judged as if they had: a rotation overdue by one interval leaves
        // only the current secret valid, by two leaves none (a new secret has issued nothing yet).
        let overdue = (now - rotatedAt) / Self.rotationInterval
        if overdue >= 2 { return false }
        if token == Self.token(secret: current, ip: ip) { return true }
        return overdue < 1 && token == Self.token(secret: previous, ip: ip)
    }

    private mutating func rotateIfDue(now: ContinuousClock.Instant) {
        let elapsed = now - rotatedAt
        guard elapsed >= Self.rotationInterval else { return }
        // After two intervals or more, the secret before is too old as well.
        previous = elapsed >= Self.rotationInterval * 2 ? Self.secret(from: &source) : current
        current = Self.secret(from: &source)
        rotatedAt = now
    }

    private static func secret(from source: inout Source) -> [UInt8] {
        (0..<2).flatMap { _ in withUnsafeBytes(of: source.next()) { Array($0) } }
    }

    private static func token(secret: [UInt8], ip: IPAddress) -> [UInt8] {
        Array(SHA1Hash.of(secret + ip.unmapped.bytes).bytes.prefix(tokenLength))
    }
}

extension TokenIssuer where Source == SystemRandomNumberGenerator {
    /// An issuer with secrets from the system's generator.
    public init(now: ContinuousClock.Instant) {
        self.init(now: now, source: SystemRandomNumberGenerator())
    }
}
