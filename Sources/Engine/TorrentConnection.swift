import Metainfo
import NIOCore
import PeerWire
import Storage

extension Torrent {
    /// Runs one handshaken connection until it ends, whoever opened it. `name` is the peer's address;
    /// `reachable` is where we connected to it (nil for a peer that connected in). Returns whether the peer had
    /// every piece.
    @discardableResult
    func serve(_ link: PeerLink, name: String, reachable: PeerAddress? = nil) async -> Bool {
        let ip = link.ip
        let maxPeers = context.settings.connections.maxPerTorrent
        // Trackers list us among the peers: both ends of a connection to ourselves close without a word.
        guard link.remote.peerID != context.peerID else { return false }
        guard context.claimConnection() else { return false }
        defer { context.releaseConnection() }
        guard let handle = core.withLock({ $0.register(name: name, ip: ip, peerID: link.remote.peerID, sender: link.sender, maxPeers: maxPeers) })
        else { return false }
        if let reachable { handle.control.withLock { $0.listenAddress = reachable; $0.exchangeFlags = .reachable } }
        emit.yield(.peerConnected(name, client: link.remote.peerID.azureusClient))
        let view = PeerView(pieceCount: metainfo.info.pieceCount)
        let reason: String
        do {
            try await exchange(link, handle: handle, view: view)
            reason = "stopped"
        } catch {
            reason = core.withLock { $0.stopped } ? "stopped" : "\(error)"
        }
        let wantRechoke = core.withLock { core in
            core.unregister(handle, view: view)
            return core.rechokeWanted
        }
        emit.yield(.peerDisconnected(name, reason: reason))
        if wantRechoke { rechoke() }
        return view.isSeed || view.pieces.isFull
    }

    /// The message loop of one connection: one locked step per batch of messages; hashing, disk and the
    /// socket outside the lock.
    private func exchange(_ link: PeerLink, handle: PeerHandle, view: PeerView) async throws {
        let info = metainfo.info
        var state = PeerConnectionState(pieceCount: info.pieceCount, pieceLength: info.pieceLength,
                                        totalSize: info.pieceSpaceSize, fastExtension: link.remote.extensions.contains(.fast))
        var opening: [PeerMessage] = []
        if link.remote.extensions.contains(.extensionProtocol) {
            // A private torrent's metadata goes only with the torrent file, as libtorrent has it.
            var offered: [ExtensionMessage] = info.isPrivate ? [] : [.metadata]
            if usesPeerExchange { offered.append(.peerExchange) }
            let ours = ExtensionHandshake(messages: Dictionary(uniqueKeysWithValues: offered.map { ($0.rawValue, $0.localID) }),
                                          listenPort: context.listenPort.map { UInt16($0) }, client: MetadataFetch.clientName,
                                          yourIP: link.ip?.bytes, requestQueueLength: state.limits.maxIncomingRequests,
                                          metadataSize: info.isPrivate ? nil : info.rawBytes.count)
            opening.append(.extended(id: 0, payload: ByteBuffer(bytes: ours.encoded())))
        }
        // BEP 5: where our DHT node answers, for a peer that runs one too.
        if link.remote.extensions.contains(.dht), handshake.extensions.contains(.dht),
           let port = context.dhtNode.withLock({ $0?.port }).flatMap({ UInt16(exactly: $0) }) {
            opening.append(.port(port))
        }
        let (have, announced) = core.withLock { ($0.picker.verified, $0.haveLog.count) }
        view.sentHaves = announced
        if state.fastExtension, have.isFull {
            opening.append(.haveAll)
        } else if have.setCount > 0 {
            opening.append(.bitfield(have.bytes))
        } else if state.fastExtension {
            opening.append(.haveNone)
        }
        try await link.send(opening)

        var waitForPeer = true
        while true {
            if core.withLock({ $0.stopped }) { return }
            let (messages, bytes) = try await link.receive(wait: waitForPeer)
            if bytes > 0 { await limits.received(bytes) }
            var (outgoing, requests) = try absorb(messages, peer: handle, view: view, state: &state)
            if let exchange = peerExchangeMessage(for: handle, view: view) { outgoing.append(exchange) }
            await finisher.wait()
            let served = try serve(requests, state: &state, into: &outgoing)
            if served > 0 {
                await limits.sending(served)
                uploaded(served, by: handle)
            }
            if !outgoing.isEmpty { try await link.send(outgoing) }
            // Requests still queued are served before waiting for the peer again.
            waitForPeer = state.incoming.isEmpty
        }
    }

    /// Takes in a batch of messages: the protocol state checks them, the torrent's locked step acts on them,
    /// completed pieces go to the finisher. Returns what to send back and the peer's requests to serve.
    /// Synchronous on purpose: the async loop above only waits for the socket and the rate limits.
    private func absorb(_ messages: [PeerMessage], peer handle: PeerHandle, view: PeerView,
                        state: inout PeerConnectionState) throws -> (messages: [PeerMessage], serve: [BlockRequest]) {
        var batch = PeerBatch()
        var replies: [PeerMessage] = []
        var discovered: [PeerAddress] = []
        for message in messages {
            if case .port(let port) = message, handshake.extensions.contains(.dht), let ip = handle.ip {
                context.dhtNode.withLock { $0 }?.addNode(PeerAddress(ip: ip, port: port))
            }
            for event in try state.received(message) {
                switch event {
                case .peerHas(let pieces):
                    batch.has += pieces
                    for piece in pieces { view.pieces[piece] = true }
                case .peerHasAll:
                    batch.becameSeed = true
                    handle.control.withLock { _ = $0.exchangeFlags.insert(.seed) }
                    view.isSeed = true
                case .choked(let lost):
                    batch.released += lost
                case .rejected(let block):
                    batch.released.append(block)
                case .block(let block, let data):
                    batch.blocks.append((block, data))
                case .peerInterested(let interested):
                    batch.interested = interested
                case .extended(id: 0, let payload):
                    // A malformed extension handshake is the peer's problem, not a reason to hang up.
                    if let theirs = try? ExtensionHandshake(payload: payload) {
                        if let queue = theirs.requestQueueLength { view.queueLimit = max(1, queue) }
                        view.metadataID = theirs.messages[ExtensionMessage.metadata.rawValue] ?? 0
                        view.peerExchangeID = theirs.messages[ExtensionMessage.peerExchange.rawValue] ?? 0
                        if let port = theirs.listenPort, let ip = handle.ip {
                            handle.control.withLock { control in
                                if control.listenAddress == nil { control.listenAddress = PeerAddress(ip: ip, port: port) }
                            }
                        }
                    }
                case .extended(id: ExtensionMessage.peerExchange.localID, let payload):
                    discovered += receivePeerExchange(payload, from: handle.name, view: view)
                case .extended(id: ExtensionMessage.metadata.localID, let payload):
                    if let reply = answerMetadata(payload, view: view) { replies.append(reply) }
                case .reply(let message):
                    replies.append(message)
                case .hashRequested(let request):
                    replies.append(answer(request))
                default:
                    continue
                }
            }
        }
        let step = core.withLock { core in
            if !discovered.isEmpty { core.candidates.add(discovered) }
            return core.step(batch, handle: handle, view: view, state: &state)
        }
        for piece in step.completed { finisher.submit(piece) { [self] in complete($0) } }
        for peer in step.wake where peer !== handle { peer.sender.wake() }
        if step.rechoke { rechoke() }
        return (replies + step.messages, step.serve)
    }

    /// The answer to a peer's `ut_metadata` message: a piece of the info dictionary for a request, nothing for
    /// anything else (or anything malformed: metadata is a courtesy, not a reason to hang up). A connection gets
    /// four times the metadata's pieces at most, then rejects, so asking again and again cannot make us upload
    /// without end.
    private func answerMetadata(_ payload: ByteBuffer, view: PeerView) -> PeerMessage? {
        guard view.metadataID != 0, !metainfo.info.isPrivate,
              case .request(let piece)? = try? MetadataMessage(parsing: Array(payload.readableBytesView)) else {
            return nil
        }
        let info = metainfo.info.rawBytes
        let pieces = (info.count + MetadataMessage.pieceSize - 1) / MetadataMessage.pieceSize
        guard view.metadataServed < 4 * pieces else {
            return MetadataFetch.metadataMessage(.reject(piece: piece), id: view.metadataID)
        }
        view.metadataServed += 1
        return MetadataFetch.metadataMessage(.answer(piece, from: info), id: view.metadataID)
    }

    /// Reads the blocks the last step said to serve and appends them (or rejects) to `outgoing`. Returns the
    /// payload bytes to send.
    private func serve(_ requests: [BlockRequest], state: inout PeerConnectionState,
                       into outgoing: inout [PeerMessage]) throws -> Int {
        var served = 0
        for block in requests {
            state.answered(block)
            if let data = try cache.block(block, from: storage) {
                outgoing.append(.piece(piece: block.piece, offset: block.offset, data: data))
                served += block.length
            } else if state.fastExtension {
                outgoing.append(.reject(block))
            }
        }
        return served
    }

    private func uploaded(_ bytes: Int, by handle: PeerHandle) {
        handle.control.withLock { $0.uploaded += Int64(bytes) }
        core.withLock { $0.uploaded += Int64(bytes) }
    }

    /// Hashes a piece whose blocks are all in; writes it and counts it only if it verifies. Runs on the
    /// finisher's queue. A piece that cannot be written stops the torrent: the disk needs the user.
    private func complete(_ piece: PieceBuffer) {
        let good = checker.verify(piece.piece, bytes: UnsafeRawBufferPointer(piece.bytes))
        if good {
            let block = BlockRequest(piece: piece.piece, offset: 0, length: piece.bytes.count)
            do {
                try storage.write(block, from: UnsafeRawBufferPointer(piece.bytes))
            } catch {
                emit.yield(.error("cannot write piece \(piece.piece): \(error)"))
                core.withLock { $0.picker.hashFailed(piece.piece) }
                stop()
                return
            }
        }
        let outcome = core.withLock { $0.finished(piece, good: good) }
        // Connections look again: to announce the piece, or to fetch a failed one's blocks anew.
        for peer in outcome.wake { peer.sender.wake() }
        if good {
            let have = core.withLock { $0.picker.verified.setCount }
            emit.yield(.pieceVerified(piece.piece, have: have, of: storage.layout.pieceCount))
            if outcome.done { becameComplete() }
        } else {
            emit.yield(.pieceFailed(piece.piece, senders: outcome.blamed))
            for peer in outcome.ban {
                emit.yield(.peerBanned(peer.name, reason: "sent data for pieces that failed their hash check"))
                peer.sender.close()
            }
        }
    }
}
