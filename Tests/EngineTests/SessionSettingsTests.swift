@testable import Engine
import Metainfo
import Testing

@Suite struct SessionSettingsTests {
    @Test func blockAndAllowLists() {
        var peers = SessionSettings.Peers()
        let a = IPAddress("10.0.0.5")!
        let b = IPAddress("192.0.2.9")!
        #expect(peers.permits(a) && peers.permits(b))
        peers.blocked.add(IPAddress("10.0.0.0")!, IPAddress("10.0.0.255")!)
        #expect(!peers.permits(a) && peers.permits(b))
        peers.allowedOnly.add(IPAddress("192.0.2.0")!, IPAddress("192.0.2.255")!)
        #expect(peers.permits(b))
        #expect(!peers.permits(IPAddress("198.51.100.1")!), "outside the allow-only list")
        // Blocking wins over allowing.
        peers.blocked.add(b, b)
        #expect(!peers.permits(b))
    }

    @Test func validation() throws {
        #expect(try SessionSettings().validated() == SessionSettings())
        var settings = SessionSettings()
        settings.rates.upload = 0
        #expect(throws: SessionSettings.Invalid.self) { try settings.validated() }
        settings = SessionSettings()
        settings.listenPort = 70_000
        #expect(throws: SessionSettings.Invalid.self) { try settings.validated() }
        settings = SessionSettings()
        settings.connections.maxHalfOpen = -1
        #expect(throws: SessionSettings.Invalid.self) { try settings.validated() }
    }
}
