@testable import Engine
import Testing

@Suite struct BandwidthTests {
    @Test func noLimitNeverWaits() {
        let limiter = RateLimiter(limit: nil)
        #expect(limiter.reserve(1 << 30) == .zero)
    }

    @Test("Callers that wait as told pass the limit's rate, however they split their bytes")
    func holdsItsRateOverSimulatedTime() {
        let start = ContinuousClock.now
        let limiter = RateLimiter(limit: 100_000)
        // Three callers taking 16 KiB blocks in turn, each going again once its wait is over.
        var ready = [Duration](repeating: .zero, count: 3)
        var passed = 0
        while true {
            let caller = ready.indices.min { ready[$0] < ready[$1] }!
            let now = ready[caller]
            guard now < .seconds(60) else { break }
            let wait = limiter.reserve(16_384, now: start + now)
            passed += 16_384
            ready[caller] = now + wait
        }
        // What has passed by 60 s is the rate times the time, within a block per caller and the burst.
        let expected = 100_000 * 60
        #expect(abs(passed - expected) <= 3 * 16_384 + 10_000, "passed \(passed), expected about \(expected)")
    }

    @Test("A pause earns at most the burst, not a flood")
    func burstIsCapped() {
        let start = ContinuousClock.now
        let limiter = RateLimiter(limit: 1_000_000, burst: 0.1)
        _ = limiter.reserve(0, now: start)
        // Ten idle seconds later, 100 KB pass at once and the next byte waits.
        #expect(limiter.reserve(100_000, now: start + .seconds(10)) == .zero)
        #expect(limiter.reserve(100_000, now: start + .seconds(10)) == .milliseconds(100))
    }

    @Test("A lower limit set while running applies to the next bytes")
    func limitChangesWhileRunning() {
        let limiter = RateLimiter(limit: nil)
        #expect(limiter.reserve(1_000_000) == .zero)
        limiter.limit = 1000
        let wait = limiter.reserve(1000)
        #expect(wait > .milliseconds(900) && wait <= .seconds(1), "\(wait)")
    }
}
