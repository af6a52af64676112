@testable import Engine
import Metainfo
import NIOCore
import NIOPosix
import PeerWire
import Testing

@Suite struct PeerListenerTests {
    @Test("Connections beyond the listener's limit are closed at once; those within it stay open")
    func connectionLimit() async throws {
        let listener = try await PeerListener.bind(host: "127.0.0.1", port: 0)
        let serving = Task {
            await listener.serve(maxConnections: 1, answer: { _ in nil }) { _, _ in }
        }
        defer { serving.cancel() }
        let group = MultiThreadedEventLoopGroup.singleton
        // The first connection says nothing: it holds the only place, waiting for a handshake.
        let first = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: listener.port).get()
        try await Task.sleep(for: .milliseconds(200))
        let second = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: listener.port).get()
        let secondClosed = try await withTimeout(seconds: 5) { try await second.closeFuture.get() }
        #expect(secondClosed == ())
        #expect(first.isActive, "the connection within the limit is still open")
        try await first.close()
    }
}

/// Runs `body`, failing if it takes longer than `seconds`.
func withTimeout<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            throw CancellationError()
        }
        defer { group.cancelAll() }
        guard let result = try await group.next() else { throw CancellationError() }
        return result
    }
}
