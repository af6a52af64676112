@testable import Engine
import Testing

@Suite struct BandwidthTests {
    @Test func maxMinFairSplit() {
        // 100 bytes for wants of 10, 50, 200: the small want is met, the rest share what is left equally.
        #expect(FairShare.split(100, among: [10, 50, 200]) == [10, 45, 45])
        #expect(FairShare.split(1000, among: [10, 50, 200]) == [10, 50, 200])
        #expect(FairShare.split(90, among: [100, 100, 100]) == [30, 30, 30])
        #expect(FairShare.split(100, among: [0, 0]) == [0, 0])
        #expect(FairShare.split(0, among: [5]) == [0])
        #expect(FairShare.split(2, among: [5, 5, 5]).reduce(0, +) <= 2)
        // Never more than available, never more than wanted.
        let wants = [7, 1, 300, 42, 0, 99]
        for available in [0, 1, 13, 100, 449, 10_000] {
            let grants = FairShare.split(available, among: wants)
            #expect(grants.reduce(0, +) <= available)
            #expect(zip(grants, wants).allSatisfy { $0 <= $1 })
        }
    }

    @Test func tokenBucketHoldsItsRate() {
        var bucket = TokenBucket(limit: 1000)
        #expect(bucket.available == 0)
        bucket.refill(elapsed: .milliseconds(250))
        #expect(bucket.available == 250)
        bucket.spend(200)
        #expect(bucket.available == 50)
        // Bursts are capped at one second's worth.
        bucket.refill(elapsed: .seconds(10))
        #expect(bucket.available == 1000)
        // Over a simulated minute of 100 ms ticks, what passes is the limit times the time.
        var passed = 0
        var limited = TokenBucket(limit: 50_000)
        for _ in 0..<600 {
            limited.refill(elapsed: .milliseconds(100))
            let take = min(limited.available, 1_000_000)
            limited.spend(take)
            passed += take
        }
        #expect(abs(passed - 50_000 * 60) <= 50_000 / 100, "passed \(passed)")
        #expect(TokenBucket(limit: nil).available == .max)
    }

    @Test("Torrent and session limits both hold, and peers share them fairly")
    func twoLevelAllocation() {
        var torrents = [TokenBucket(limit: 100), TokenBucket(limit: nil)]
        torrents[0].refill(elapsed: .seconds(1))
        var session = TokenBucket(limit: 300)
        session.refill(elapsed: .seconds(1))
        let wants: [(torrent: Int, bytes: Int)] = [(0, 1000), (0, 1000), (1, 1000), (1, 50)]
        let grants = FairShare.allocate(wants: wants, torrents: &torrents, session: &session)
        #expect(grants[0] + grants[1] <= 100, "torrent 0's limit holds")
        #expect(grants[0] == grants[1])
        #expect(grants.reduce(0, +) <= 300, "the session's limit holds")
        #expect(grants[3] == 50)
        #expect(grants == [50, 50, 150, 50])
        #expect(session.available == 0)
        #expect(torrents[0].available == 0)
    }
}
