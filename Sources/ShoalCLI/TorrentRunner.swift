#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Dispatch
import Foundation
import Shoal
import Synchronization

/// The session a `download`, `seed` or `info --fetch` runs in: listening for peers (and answering them) from
/// the start, so a magnet link's metadata and then its data come through the same port, and optionally a
/// tracker in the same process.
final class Node: Sendable {
    let session: Session
    private let tracker: TrackerServer?
    private let accepting: Task<Void, Never>?
    /// Whether peers may come from local discovery (or the DHT) at any time, so running out of known peers is
    /// no reason to give up on a public torrent.
    let discovers: Bool
    /// Where the DHT routing table is saved on close.
    private let dhtState: String?

    private init(session: Session, tracker: TrackerServer?, accepting: Task<Void, Never>?, discovers: Bool, dhtState: String?) {
        self.session = session
        self.discovers = discovers
        self.dhtState = dhtState
        self.tracker = tracker
        self.accepting = accepting
    }

    /// Starts the session: the tracker asked for, then the listening port. `listeningRequired` makes a port
    /// that cannot be bound an error (seeding); otherwise the node only connects out. `reportPort` prints the
    /// port bound on stdout, for scripts.
    static func start(settings: SessionSettings, serveTracker: Int?, listeningRequired: Bool, reportPort: Bool = true,
                      localDiscovery: LocalDiscovery.Configuration? = nil, dht: DHTOptions? = nil) async throws(ExitCode) -> Node {
        let session = Session(settings: settings)
        let tracker = serveTracker.map { _ in TrackerServer() }
        if let tracker, let serveTracker {
            do { try await startTracker(tracker, host: nil, httpPort: serveTracker, udpPort: serveTracker) } catch {
                tracker.close()
                throw error
            }
        }
        var listener: PeerListener?
        do {
            listener = try await session.listen(port: settings.listenPort)
        } catch {
            if listeningRequired {
                tracker?.close()
                Terminal.error("cannot listen on port \(settings.listenPort): \(error)")
                throw ExitCode.failure
            }
            Terminal.warning("cannot listen on port \(settings.listenPort) (\(error)); only connecting out")
        }
        if let listener, reportPort {
            // Written straight to the descriptor: scripts wait for this line, and stdout may be a buffered pipe.
            FileHandle.standardOutput.write(Data("listening on port \(listener.port)\n".utf8))
        }
        let accepting = listener.map { listener in Task { await session.accept(on: listener) } }
        var discovers = false
        if let localDiscovery, listener != nil {
            do {
                try await session.startLocalDiscovery(localDiscovery)
                discovers = true
            } catch {
                Terminal.warning("local service discovery is off: \(error)")
            }
        }
        if let dht, settings.discovery.dht {
            let nodes = try dht.bootstrapNodes()
            do {
                var configuration = DHTNode.Configuration()
                configuration.readOnly = dht.readOnly
                try await session.startDHT(bootstrap: nodes, state: loadDHTState(from: dht.stateFile), configuration: configuration)
                discovers = true
            } catch {
                Terminal.warning("the DHT is off: \(error)")
            }
        }
        return Node(session: session, tracker: tracker, accepting: accepting, discovers: discovers, dhtState: dht?.stateFile)
    }

    /// Stops accepting peers and closes the tracker.
    func close() async {
        if let dht = session.dht { saveDHTState(dht, to: dhtState) }
        session.close()
        accepting?.cancel()
        await accepting?.value
        tracker?.close()
    }
}

/// Runs one torrent in a ``Node`` for `download` and `seed`: connects to the given peers, shows progress (a
/// live line on a terminal, log lines otherwise) and stops cleanly on Ctrl-C or SIGTERM, leaving resume data
/// behind.
struct TorrentRunner {
    let metainfo: Metainfo
    let storage: PieceStorage
    let options: TorrentOptions
    let peers: [(host: String, port: Int)]
    /// What to say when every wanted piece is verified (nil: nothing).
    let finishedMessage: String?

    /// How the run ended.
    enum Outcome {
        case complete
        case incomplete
        case interrupted(Int32)
    }

    func run(on node: Node, verified: Bitfield) async throws(ExitCode) -> (outcome: Outcome, verified: Bitfield, stats: TorrentStats) {
        let torrent: Torrent
        do { torrent = try node.session.add(metainfo, storage: storage, verified: verified, options: options) } catch {
            throw Terminal.badInput("\(error)")
        }
        torrent.addPeers(peers)
        let interrupt = SignalWatch { torrent.stop() }
        let reporter = Task { await Reporter(finishedMessage: finishedMessage).show(torrent.events) }
        await torrent.run()
        await reporter.value
        let signal = interrupt.cancel()
        let outcome: Outcome = if let signal { .interrupted(signal) } else if torrent.isComplete { .complete } else { .incomplete }
        return (outcome, torrent.verified, torrent.stats)
    }
}

/// Calls `action` once on the first SIGINT or SIGTERM, and remembers which came.
final class SignalWatch {
    private var sources: [any DispatchSourceSignal] = []
    /// The first signal that came, written from Dispatch's queue.
    private final class Record: Sendable {
        let signal = Mutex<Int32?>(nil)
    }

    private let record = Record()

    init(_ action: @escaping @Sendable () -> Void) {
        let record = self.record
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let first = record.signal.withLock { seen in
                    defer { seen = seen ?? number }
                    return seen == nil
                }
                if first { action() }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The signal that came, if one did.
    var received: Int32? { record.signal.withLock { $0 } }

    /// Stops watching (a second Ctrl-C then ends the process at once) and says which signal came, if any.
    func cancel() -> Int32? {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
        return record.signal.withLock { $0 }
    }
}

/// Shows a torrent's events: a live line on a terminal, plain lines otherwise.
struct Reporter {
    let finishedMessage: String?
    let live = Terminal.isInteractive

    func show(_ events: AsyncStream<TorrentEvent>) async {
        var lastLog = ContinuousClock.now
        var lineShown = false
        var firstPiece = true
        func line(_ text: String) {
            FileHandle.standardError.write(Data(((lineShown ? "\r\u{1B}[K" : "") + text + "\n").utf8))
            lineShown = false
        }
        for await event in events {
            switch event {
            case .peerConnected(let peer, let client): line("connected to \(peer)" + (client.map { " (\($0))" } ?? ""))
            case .peerDisconnected(let peer, let reason): line("disconnected from \(peer): \(reason)")
            case .peerBanned(let peer, let reason): line("banned \(peer): \(reason)")
            case .pieceVerified:
                // Once: how soon data arrived (bench/magnet.sh times it).
                if firstPiece { line("first piece verified") }
                firstPiece = false
            case .pieceFailed(let piece, let senders):
                line("piece \(piece) failed its hash check (from \(senders.joined(separator: ", "))); fetching it again")
            case .finished: if let finishedMessage { line(finishedMessage) }
            case .error(let message): line("error: \(message)")
            case .peersFound(let count, let source): line("\(source.rawValue): \(count) peer\(count == 1 ? "" : "s") found")
            case .peerExchange(let peer, let added, let dropped): line("peer exchange from \(peer): \(added) added, \(dropped) dropped")
            case .metadataReceived(let size, let peer): line("metadata received from \(peer) (\(formatBytes(Int64(size))))")
            case .tracker(let status): if let text = Self.describe(status) { line(text) }
            case .stats(let stats):
                if live {
                    FileHandle.standardError.write(Data(("\r\u{1B}[K" + Self.summary(stats)).utf8))
                    lineShown = true
                } else if ContinuousClock.now - lastLog >= .seconds(10) {
                    lastLog = .now
                    line(Self.summary(stats))
                }
            }
        }
        if lineShown { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    /// A tracker's news, when there is any worth a line: an answer, a warning or a failure.
    static func describe(_ status: TrackerStatus) -> String? {
        let next = status.nextAnnounceIn.map { "; next announce in \($0) s" } ?? ""
        switch status.state {
        case .waiting, .announcing: return nil
        case .working:
            var text = "tracker \(status.url): \(status.peers) peers"
            if let seeders = status.seeders, let leechers = status.leechers { text += " (\(seeders) seeders, \(leechers) leechers)" }
            if let warning = status.warning { text += "; warning: \(warning)" }
            return text + next
        case .failed:
            return "tracker \(status.url) failed: \(status.lastError ?? "unknown error")" + next
        }
    }

    /// Percent, rates, peers and time left, in one line.
    static func summary(_ stats: TorrentStats) -> String {
        let done = stats.bytesWanted == 0 ? 100 : Double(stats.bytesWanted - stats.bytesLeft) * 100 / Double(stats.bytesWanted)
        var text = String(format: "%5.1f%%", done)
        text += "  down \(formatBytes(Int64(stats.downloadRate)))/s  up \(formatBytes(Int64(stats.uploadRate)))/s"
        text += "  peers \(stats.peers)"
        if stats.trackers > 0 { text += "  trackers \(stats.trackersWorking)/\(stats.trackers)" }
        if stats.bytesLeft > 0 {
            if stats.downloadRate > 0 {
                let seconds = Int(stats.bytesLeft / Int64(stats.downloadRate))
                text += String(format: "  ETA %d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
            } else {
                text += "  ETA -"
            }
        }
        return text
    }
}
