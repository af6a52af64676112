import Synchronization

/// A rate limit shared by many connections: up to ``limit`` bytes per second, changeable while running.
///
/// A token bucket that lends: ``consume(_:)`` takes the bytes at once and, when that leaves the bucket in
/// debt, sleeps until the debt is paid. Concurrent callers queue behind one another's debt, so peers that
/// share a limit get turns in arrival order and the sum holds the rate. Bursts are capped at ``burst`` of
/// a second's worth, so a pause is not followed by a flood that breaks the limit over a short measurement.
public final class RateLimiter: Sendable {
    private struct State {
        var limit: Int?
        var tokens: Double = 0
        var last: ContinuousClock.Instant
    }

    private let state: Mutex<State>
    /// The share of a second's bytes that may pass at once after a pause.
    public let burst: Double

    public init(limit: Int?, burst: Double = 0.1) {
        self.burst = burst
        state = Mutex(State(limit: limit, last: .now))
    }

    /// Bytes per second; nil for no limit.
    public var limit: Int? {
        get { state.withLock { $0.limit } }
        set {
            state.withLock { state in
                state.limit = newValue
                state.tokens = min(state.tokens, 0)
                state.last = .now
            }
        }
    }

    /// Accounts for `bytes` and returns how long the caller must wait before they may pass (zero without
    /// a limit or with tokens to spare).
    func reserve(_ bytes: Int, now: ContinuousClock.Instant = .now) -> Duration {
        state.withLock { state in
            guard let limit = state.limit, limit > 0 else { return .zero }
            let rate = Double(limit)
            let elapsed = now - state.last
            state.last = now
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            state.tokens = min(rate * burst, state.tokens + rate * max(0, seconds))
            state.tokens -= Double(bytes)
            guard state.tokens < 0 else { return .zero }
            return .nanoseconds(Int64(-state.tokens / rate * 1e9))
        }
    }

    /// Takes `bytes` from the limit, waiting as long as the limit asks.
    public func consume(_ bytes: Int) async {
        let wait = reserve(bytes)
        if wait > .zero { try? await Task.sleep(for: wait) }
    }
}

/// The limits one transfer passes through: the session's and its torrent's.
struct RateLimits: Sendable {
    let download: [RateLimiter]
    let upload: [RateLimiter]

    /// Waits until `bytes` received may pass every download limit.
    func received(_ bytes: Int) async {
        for limiter in download { await limiter.consume(bytes) }
    }

    /// Waits until `bytes` to send may pass every upload limit.
    func sending(_ bytes: Int) async {
        for limiter in upload { await limiter.consume(bytes) }
    }
}
