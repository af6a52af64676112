import Metainfo
import NIOCore
import PeerWire
import Synchronization
import Tracker

/// Why a magnet link's metadata could not be fetched.
public enum MetadataFetchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Every peer known was tried and none gave the metadata, and no source can name more.
    case peersRanOut
    /// ``MetadataFetch/stop()`` was called or the task was cancelled first.
    case stopped
    /// The metadata hashes to the info-hash but is not a usable info dictionary.
    case unusable(String)

    public var description: String {
        switch self {
        case .peersRanOut: "no peer gave the torrent's metadata"
        case .stopped: "stopped before the metadata arrived"
        case .unusable(let why): "the metadata is not a usable torrent: \(why)"
        }
    }
}

/// Fetches the info dictionary of a magnet link from peers (BEP 9 over BEP 10), found in the link's `x.pe`,
/// through its trackers (`tr`), given with ``addPeers(_:)`` or connecting in.
///
/// Each connection asks its peer for every piece, a few at a time, into an assembly of its own: a peer whose
/// pieces do not hash to the info-hash is then known for certain and banned, and an honest peer is never
/// blamed for another's lie. Metadata is small, so the extra bytes from several peers cost little. The first
/// connection to finish wins and the others close.
public final class MetadataFetch: Sendable {
    public let magnet: MagnetLink
    /// What happens while fetching: peers, trackers, bans, and ``TorrentEvent/metadataReceived(size:from:)``.
    public let events: AsyncStream<TorrentEvent>
    let emit: AsyncStream<TorrentEvent>.Continuation
    let context: SessionContext
    let handshake: Handshake
    let options: Options
    private let state = Mutex(FetchState())
    private let finished: @Sendable () -> Void
    /// Ends the run loop's nap when the metadata is in or the user stops.
    private let wakeup = Wakeup()

    /// How a fetch behaves.
    public struct Options: Sendable {
        /// Give up once every peer known has failed, instead of waiting for sources to name more.
        public var stopWhenPeersRunOut = false
        /// Peers connected at once.
        public var maxConnections = 8
        /// A peer that sends no metadata piece for this long is dropped.
        public var stallTimeout: Duration = .seconds(30)
        /// Pieces asked of one peer at a time.
        public var piecesInFlight = 4

        public init() {}
    }

    private struct FetchState {
        var candidates = PeerCandidates()
        var halfOpen = 0
        var connections: [Int: (sender: PeerSender, lastProgress: ContinuousClock.Instant)] = [:]
        var nextConnection = 0
        var banned: Set<IPAddress> = []
        var metadata: [UInt8]?
        /// No connection starts any more: the metadata is in, or the user stopped.
        var over = false
        var stoppedByUser = false
    }

    init(magnet: MagnetLink, infoHash: SHA1Hash, options: Options, context: SessionContext, finished: @escaping @Sendable () -> Void) {
        self.magnet = magnet
        self.options = options
        self.context = context
        self.finished = finished
        handshake = Handshake(extensions: [.fast, .extensionProtocol], infoHash: infoHash, peerID: context.peerID)
        (events, emit) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1024))
        state.withLock { $0.candidates.add(magnet.peers.compactMap(PeerAddress.init(parsing:))) }
    }

    /// Adds peers to ask (from the user, and later the DHT).
    public func addPeers(_ peers: [(host: String, port: Int)]) {
        state.withLock { $0.candidates.add(peers) }
    }

    /// Adds peers to ask, by address (from trackers, the DHT and local discovery).
    public func addPeers(_ addresses: [PeerAddress]) {
        state.withLock { $0.candidates.add(addresses) }
    }

    /// Ends the fetch; ``run()`` then throws ``MetadataFetchError/stopped``.
    public func stop() {
        let senders = state.withLock { state in
            state.stoppedByUser = true
            state.over = true
            return state.connections.values.map(\.sender)
        }
        for sender in senders { sender.close() }
        wakeup.wake()
    }

    /// Peers that got through the handshake: a download of the torrent starts with them.
    public var reachedPeers: [(host: String, port: Int)] {
        state.withLock { state in
            state.candidates.names.compactMap { name in
                state.candidates[name].flatMap { $0.reached ? (host: $0.host, port: $0.port) : nil }
            }
        }
    }

    /// Connects to peers and asks trackers until the metadata is in, then returns the torrent it describes,
    /// with the link's trackers (each a tier) and web seeds.
    public func run() async throws(MetadataFetchError) -> Metainfo {
        defer {
            finished()
            emit.finish()
        }
        // Discarding: connection tasks end all the time, and a plain group keeps each finished one until awaited.
        await withDiscardingTaskGroup { group in
            group.addTask { await self.announceToTrackers() }
            while !Task.isCancelled, !state.withLock({ $0.over }) {
                for candidate in takeConnectable() {
                    group.addTask { await self.connect(candidate) }
                }
                closeStalled()
                if options.stopWhenPeersRunOut, state.withLock({ $0.connections.isEmpty && $0.halfOpen == 0 && $0.candidates.exhausted }) {
                    break
                }
                await wakeup.nap(.milliseconds(250))
            }
            let senders = state.withLock { state in
                state.over = true
                return state.connections.values.map(\.sender)
            }
            for sender in senders { sender.close() }
            group.cancelAll()
        }
        let (metadata, stoppedByUser) = state.withLock { ($0.metadata, $0.stoppedByUser) }
        guard let metadata else { throw stoppedByUser || Task.isCancelled ? .stopped : .peersRanOut }
        let info: TorrentInfo
        do { info = try TorrentInfo(bytes: metadata) } catch { throw .unusable("\(error)") }
        return Metainfo(info: info, trackers: magnet.trackers.map { [$0] }, webSeeds: magnet.webSeeds)
    }

    private func takeConnectable() -> [Candidate] {
        let settings = context.settings
        let sessionRoom = settings.connections.maxTotal - context.connectionCount
        return state.withLock { state in
            guard !state.over else { return [] }
            let room = min(options.maxConnections - state.connections.count - state.halfOpen, sessionRoom - state.halfOpen,
                           settings.connections.maxHalfOpen - state.halfOpen)
            let banned = state.banned
            let picked = state.candidates.take(room: room, now: .now) { settings.peers.permits($0) && !banned.contains($0) }
            state.halfOpen += picked.count
            return picked
        }
    }

    private func connect(_ candidate: Candidate) async {
        let name = peerName(host: candidate.host, port: candidate.port)
        var outcome = Outcome.failed
        do {
            let link = try await PeerConnector.connect(host: candidate.host, port: candidate.port, handshake: handshake)
            state.withLock { state in
                state.halfOpen -= 1
                state.candidates.reached(name)
            }
            outcome = await serve(link, name: name)
            link.close()
        } catch {
            emit.yield(.peerDisconnected(name, reason: "\(error)"))
        }
        state.withLock { state in
            if !(state.candidates[name]?.reached ?? false) { state.halfOpen -= 1 }
            state.candidates.ended(name, giveUp: outcome == .never, fruitless: outcome == .failed)
        }
    }

    /// Closes connections that went too long without a metadata piece.
    private func closeStalled() {
        let now = ContinuousClock.now
        let stalled = state.withLock { state in
            state.connections.values.filter { now - $0.lastProgress > options.stallTimeout }.map(\.sender)
        }
        for sender in stalled { sender.close() }
    }

    /// How a connection to a peer went, for whether to ask it again.
    enum Outcome {
        /// It gave the metadata, or another peer did first.
        case done
        /// Nothing came of it this time (a refusal, a stall, no metadata yet): later, less and less often.
        case failed
        /// It cannot help: no extension protocol, no `ut_metadata`, ourselves, or it lied.
        case never
    }

    /// Runs one handshaken connection, ours or the peer's, until it ends.
    @discardableResult
    func serve(_ link: PeerLink, name: String) async -> Outcome {
        guard link.remote.peerID != context.peerID else { return .never }
        guard context.claimConnection() else { return .failed }
        defer { context.releaseConnection() }
        let id: Int? = state.withLock { state in
            guard !state.over, link.ip.map({ !state.banned.contains($0) }) ?? true else { return nil }
            defer { state.nextConnection += 1 }
            state.connections[state.nextConnection] = (link.sender, .now)
            return state.nextConnection
        }
        guard let id else { return .never }
        emit.yield(.peerConnected(name, client: link.remote.peerID.azureusClient))
        var reason = "stopped"
        var outcome = Outcome.done
        do {
            if try await exchange(link, connection: id) {
                reason = "metadata received"
                emit.yield(.metadataReceived(size: state.withLock { $0.metadata?.count ?? 0 }, from: name))
            }
        } catch let error as MetadataRefusal {
            reason = error.description
            outcome = error.permanent ? .never : .failed
            if error.ban, let ip = link.ip {
                state.withLock { _ = $0.banned.insert(ip) }
                emit.yield(.peerBanned(name, reason: error.description))
            }
        } catch {
            if !state.withLock({ $0.over }) {
                reason = "\(error)"
                outcome = .failed
            }
        }
        state.withLock { _ = $0.connections.removeValue(forKey: id) }
        emit.yield(.peerDisconnected(name, reason: reason))
        return outcome
    }

    /// Asks one peer for the metadata. Returns true when this connection completed it, false when another did
    /// first.
    private func exchange(_ link: PeerLink, connection id: Int) async throws -> Bool {
        guard link.remote.extensions.contains(.extensionProtocol) else {
            throw MetadataRefusal("the peer does not speak the extension protocol (BEP 10)", permanent: true)
        }
        let ours = ExtensionHandshake(messages: [ExtensionMessage.metadata.rawValue: ExtensionMessage.metadata.localID],
                                      listenPort: context.listenPort.map { UInt16($0) }, client: Self.clientName, yourIP: link.ip?.bytes)
        var opening: [PeerMessage] = [.extended(id: 0, payload: ByteBuffer(bytes: ours.encoded()))]
        if link.remote.extensions.contains(.fast) { opening.append(.haveNone) }
        try await link.send(opening)

        var assembly: MetadataAssembly?
        var theirID: UInt8 = 0
        var asked: Set<Int> = []
        while true {
            if state.withLock({ $0.over }) { return false }
            var replies: [PeerMessage] = []
            for message in try await link.receive().messages {
                guard case .extended(let messageID, let payload) = message else { continue }
                if messageID == 0 {
                    guard let theirs = try? ExtensionHandshake(payload: payload) else { throw MetadataRefusal("malformed extension handshake") }
                    guard let metadataID = theirs.messages[ExtensionMessage.metadata.rawValue], metadataID != 0 else {
                        throw MetadataRefusal("the peer does not give metadata (no ut_metadata)", permanent: true)
                    }
                    guard let size = theirs.metadataSize else { throw MetadataRefusal("the peer has no metadata yet (no metadata_size)") }
                    theirID = metadataID
                    if assembly == nil { assembly = try MetadataAssembly(infoHashes: magnet.infoHashes, size: size) }
                } else if messageID == ExtensionMessage.metadata.localID {
                    switch try MetadataMessage(parsing: Array(payload.readableBytesView)) {
                    case .request(let piece):
                        // We have nothing to give yet.
                        if theirID != 0 { replies.append(Self.metadataMessage(.reject(piece: piece), id: theirID)) }
                    case .reject(let piece):
                        throw MetadataRefusal("the peer refused metadata piece \(piece)")
                    case .data(let piece, let totalSize, let payload):
                        guard var whole = assembly, totalSize == whole.size, asked.remove(piece) != nil else {
                            throw MetadataRefusal("the peer sent metadata piece \(piece) unasked or of another size")
                        }
                        try whole.add(piece: piece, data: payload)
                        assembly = whole
                        state.withLock { $0.connections[id]?.lastProgress = .now }
                    case nil:
                        continue
                    }
                }
            }
            if var whole = assembly {
                if whole.isComplete {
                    let bytes: [UInt8]
                    do { bytes = try whole.finish() } catch {
                        throw MetadataRefusal("sent metadata that does not hash to the info-hash", permanent: true, ban: true)
                    }
                    return deliver(bytes)
                }
                for piece in whole.missing where !asked.contains(piece) && asked.count < options.piecesInFlight {
                    asked.insert(piece)
                    replies.append(Self.metadataMessage(.request(piece: piece), id: theirID))
                }
            }
            if !replies.isEmpty { try await link.send(replies) }
        }
    }

    /// Keeps the first complete metadata and closes every other connection. True if this one was first.
    private func deliver(_ bytes: [UInt8]) -> Bool {
        let (first, senders) = state.withLock { state in
            guard state.metadata == nil, !state.stoppedByUser else { return (false, [PeerSender]()) }
            state.metadata = bytes
            state.over = true
            return (true, state.connections.values.map(\.sender))
        }
        for sender in senders { sender.close() }
        wakeup.wake()
        return first
    }

    static func metadataMessage(_ message: MetadataMessage, id: UInt8) -> PeerMessage {
        .extended(id: id, payload: ByteBuffer(bytes: message.encoded()))
    }

    static let clientName = "Shoal 0.1.0"

    /// Announces to the link's trackers, each on its own, until the fetch ends: peers they name are asked.
    /// Nothing is downloaded yet, so `left` is the link's `xl` or an unknown but non-zero size.
    private func announceToTrackers() async {
        guard context.settings.trackers.enabled else { return }
        await withTaskGroup(of: Void.self) { group in
            for (tier, url) in magnet.trackers.enumerated() {
                group.addTask { await self.announce(to: url, tier: tier) }
            }
        }
    }

    private func announce(to url: String, tier: Int) async {
        var status = TrackerStatus(url: url, tier: tier)
        var event = AnnounceEvent.started
        var failures = 0
        while !Task.isCancelled, !state.withLock({ $0.over }) {
            let request = AnnounceRequest(infoHash: handshake.infoHash, peerID: context.peerID.bytes, port: UInt16(context.listenPort ?? 0),
                                          uploaded: 0, downloaded: 0, left: magnet.exactLength ?? Int64(MetadataMessage.pieceSize),
                                          event: event, numWant: context.settings.trackers.numWant, key: context.trackerKey, trackerID: nil)
            let wait: Int
            do {
                let response = try await context.announce(url, request)
                addPeers(response.peers)
                wait = context.settings.trackers.interval(after: response)
                status.record(response, next: wait)
                event = .none
                failures = 0
            } catch .cancelled {
                return
            } catch {
                failures += 1
                wait = SessionSettings.Trackers.retryDelay(afterFailures: failures)
                status.state = .failed
                status.lastError = "\(error)"
            }
            status.nextAnnounceIn = wait
            emit.yield(.tracker(status))
            try? await Task.sleep(for: .seconds(wait))
        }
    }
}

/// Why a peer cannot give us the metadata: `permanent` when asking again is no use, `ban` when it lied.
private struct MetadataRefusal: Error, CustomStringConvertible {
    let description: String
    let permanent: Bool
    let ban: Bool

    init(_ description: String, permanent: Bool = false, ban: Bool = false) {
        self.description = description
        self.permanent = permanent
        self.ban = ban
    }
}

/// Lets a loop that naps between rounds be woken at once by another task.
final class Wakeup: Sendable {
    private let state = Mutex<(woken: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    /// Wakes the nap under way, or makes the next one return at once.
    func wake() {
        let waiter = state.withLock { state in
            defer { state = (state.waiter == nil, nil) }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Sleeps for `duration`, or until ``wake()``.
    func nap(_ duration: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: duration) }
            group.addTask { await self.waitForWake() }
            await group.next()
            group.cancelAll()
            // The waiter may still be parked: release it so the group can end.
            self.wake()
            await group.waitForAll()
            self.state.withLock { $0.woken = false }
        }
    }

    private func waitForWake() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state in
                    if state.woken {
                        state.woken = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            wake()
        }
    }
}
