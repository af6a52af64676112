@testable import Engine
import Metainfo
import Testing

@Suite struct IPFilterTests {
    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    @Test func peerGuardianP2PFormat() {
        let list = """
        # a comment
        Bad Org:1.2.3.0-1.2.3.255
        Org: with: colons and-dashes:10.0.0.1-10.0.0.1

        Reversed:9.9.9.9-9.9.9.0
        v6 net:2001:db8::-2001:db8::ffff
        not a range at all
        Broken:1.2.3-4.5.6.7
        """
        let (filter, report) = IPFilter.parse(list)
        #expect(report.ranges == 4)
        #expect(report.badLines == [7, 8])
        #expect(filter.contains(Self.ip("1.2.3.0")) && filter.contains(Self.ip("1.2.3.255")))
        #expect(!filter.contains(Self.ip("1.2.4.0")) && !filter.contains(Self.ip("1.2.2.255")))
        #expect(filter.contains(Self.ip("10.0.0.1")) && !filter.contains(Self.ip("10.0.0.2")))
        #expect(filter.contains(Self.ip("9.9.9.5")))
        #expect(filter.contains(Self.ip("2001:db8::42")) && !filter.contains(Self.ip("2001:db8::1:0")))
        // An IPv4-mapped IPv6 peer is judged as the IPv4 address it is.
        #expect(filter.contains(Self.ip("::ffff:1.2.3.4")))
    }

    @Test func eMuleDATFormat() {
        let list = """
        001.002.003.000 - 001.002.003.255 , 000 , Blocked org
        005.006.007.000 - 005.006.007.255 , 200 , Allowed by level
        010.000.000.000 - 010.255.255.255 , 127 , Edge of blocking
        """
        let (filter, report) = IPFilter.parse(list)
        #expect(report.ranges == 2)
        #expect(report.badLines.isEmpty)
        #expect(filter.contains(Self.ip("1.2.3.7")))
        #expect(!filter.contains(Self.ip("5.6.7.8")))
        #expect(filter.contains(Self.ip("10.20.30.40")))
    }

    @Test func overlappingAndTouchingRangesMerge() {
        var filter = IPFilter()
        filter.add(Self.ip("1.0.0.0"), Self.ip("1.0.0.10"))
        filter.add(Self.ip("1.0.0.11"), Self.ip("1.0.0.20"))
        filter.add(Self.ip("1.0.0.5"), Self.ip("1.0.0.7"))
        filter.add(Self.ip("255.255.255.0"), Self.ip("255.255.255.255"))
        filter.add(Self.ip("255.255.255.255"), Self.ip("255.255.255.255"))
        #expect(filter.rangeCount == 2)
        #expect(filter.contains(Self.ip("1.0.0.15")) && !filter.contains(Self.ip("1.0.0.21")))
        #expect(filter.contains(Self.ip("255.255.255.255")))
        #expect(!IPFilter().contains(Self.ip("1.0.0.1")))
    }

    @Test func addressesRoundTrip() {
        #expect(IPAddress("192.0.2.1") == .v4(0xC000_0201))
        #expect(IPAddress("192.0.2.1")?.bytes == [192, 0, 2, 1])
        #expect(IPAddress(bytes: [192, 0, 2, 1]) == IPAddress("192.0.2.1"))
        #expect(IPAddress("2001:db8::1")?.description == "2001:db8::1")
        #expect(IPAddress("::ffff:192.0.2.1")?.unmapped == IPAddress("192.0.2.1"))
        #expect(IPAddress(bytes: IPAddress("2001:db8::1")!.bytes) == IPAddress("2001:db8::1"))
        #expect(IPAddress("1.2.3") == nil && IPAddress("example.org") == nil && IPAddress(bytes: [1, 2, 3]) == nil)
        #expect(IPAddress("10.0.0.1")! < IPAddress("::1")!)
    }
}
