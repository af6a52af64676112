import Testing
@testable import Tracker

@Suite struct TrackerTiersTests {
    @Test("Blank and repeated URLs and empty tiers go; each tier keeps its members")
    func normalises() {
        let tiers = TrackerTiers([["a", " b ", "a"], [], ["", "c"], ["b", "d"]])
        #expect(tiers.tiers.count == 3)
        #expect(Set(tiers.tiers[0]) == ["a", "b"])
        #expect(tiers.tiers[1] == ["c"])
        #expect(tiers.tiers[2] == ["d"])
        #expect(tiers.urls.count == 4)
    }

    @Test("Tiers are shuffled: over many draws every member of a tier comes first")
    func shuffles() {
        var firsts: Set<String> = []
        for _ in 0..<200 { firsts.insert(TrackerTiers([["a", "b", "c", "d"]]).tiers[0][0]) }
        #expect(firsts == ["a", "b", "c", "d"])
    }

    @Test("The tracker that answered moves to the front of its tier only")
    func promotes() {
        var generator = SystemRandomNumberGenerator()
        var tiers = TrackerTiers([["a", "b", "c"], ["x", "y"]], using: &generator)
        let second = tiers.tiers[0][1]
        tiers.promote(second, inTier: 0)
        #expect(tiers.tiers[0][0] == second)
        #expect(tiers.tiers[0].count == 3)
        let before = tiers.tiers[1]
        tiers.promote(second, inTier: 1)
        tiers.promote("nowhere", inTier: 7)
        #expect(tiers.tiers[1] == before)
    }

    @Test("Tracker URLs are taken apart, and unusable ones refused")
    func urls() throws {
        let udp = try TrackerURL("udp://tracker.example:1337/announce?passkey=a")
        #expect(udp.scheme == .udp && udp.host == "tracker.example" && udp.port == 1337)
        #expect(udp.pathAndQuery == "/announce?passkey=a")
        let v6 = try TrackerURL("http://[::1]:8080/announce")
        #expect(v6.host == "::1" && v6.port == 8080)
        #expect(try TrackerURL("HTTPS://t.example/announce").port == 443)
        #expect(try TrackerURL("http://user@t.example").host == "t.example")
        for bad in ["udp://t.example/announce", "wss://t.example", "http://:80/", "udp://t:0", "udp://t:99999", "t.example"] {
            #expect(throws: TrackerError.self, "\(bad)") { try TrackerURL(bad) }
        }
    }
}
