import Metainfo
import PeerWire
import Storage

extension Torrent {
    /// Runs the torrent's clocks until it stops: connects to known peers within the limits, rechokes every
    /// 10 seconds, releases requests of snubbed peers, reports statistics every second and saves resume data
    /// every 30 seconds. Returns when ``stop()`` is called, the task is cancelled, or (as ``TorrentOptions``
    /// asks) the torrent completes or runs out of peers. Resume data is saved on the way out.
    public func run() async {
        // Not a child of the group below: it must outlive the cancellation of the connections to say `stopped`.
        let announcer = Task { await announceToTrackers() }
        // Discarding: connection tasks end all the time, and a plain group keeps each finished one until awaited.
        await withDiscardingTaskGroup { group in
            var tick = 0
            if isComplete { emit.yield(.finished) }
            while !Task.isCancelled, !core.withLock({ $0.stopped }) {
                for candidate in takeConnectable() {
                    group.addTask { await self.connect(candidate) }
                }
                if tick % 4 == 0 {
                    let second = tick / 4
                    measureRates()
                    releaseSnubbed()
                    if second % 10 == 0 || core.withLock({ $0.rechokeWanted }) { rechoke() }
                    if second % 30 == 29 { saveResumeData() }
                    emit.yield(.stats(stats))
                    // Connections look whether peer exchange news is due even when their peers are quiet.
                    if second % 5 == 0, usesPeerExchange { wakeAll() }
                }
                if shouldStop() { break }
                tick += 1
                try? await Task.sleep(for: .milliseconds(250))
            }
            stop()
            group.cancelAll()
        }
        await announcer.value
        // Pieces still being hashed and written count before the last resume data.
        await finisher.wait(below: 0)
        emit.yield(.stats(stats))
        saveResumeData(force: true)
        emit.finish()
    }

    private func shouldStop() -> Bool {
        core.withLock { core in
            if core.remaining == 0, options.stopWhenComplete { return true }
            guard options.stopWhenPeersRunOut, core.peers.isEmpty, core.halfOpen == 0 else { return false }
            return core.candidates.exhausted
        }
    }

    /// Known peers to connect to now, within the per-torrent, session and half-open limits.
    private func takeConnectable() -> [Candidate] {
        let settings = context.settings
        let now = ContinuousClock.now
        let sessionRoom = settings.connections.maxTotal - context.connectionCount
        return core.withLock { core in
            guard !core.stopped, core.remaining > 0 || settings.seeding else { return [] }
            let room = min(settings.connections.maxPerTorrent - core.peers.count - core.halfOpen, sessionRoom - core.halfOpen,
                           settings.connections.maxHalfOpen - core.halfOpen)
            let banned = core.banned
            let picked = core.candidates.take(room: room, now: now) { settings.peers.permits($0) && !banned.contains($0) }
            core.halfOpen += picked.count
            return picked
        }
    }

    /// One outgoing connection, from connecting to its end.
    private func connect(_ candidate: Candidate) async {
        let name = peerName(host: candidate.host, port: candidate.port)
        var ourselves = false
        var peerWasSeed = false
        var lasted = Duration.zero
        do {
            let link = try await PeerConnector.connect(host: candidate.host, port: candidate.port, handshake: handshake)
            ourselves = link.remote.peerID == context.peerID
            core.withLock { core in
                core.halfOpen -= 1
                core.candidates.reached(name)
            }
            let start = ContinuousClock.now
            peerWasSeed = await serve(link, name: name, reachable: PeerAddress(parsing: name))
            lasted = .now - start
            link.close()
        } catch {
            emit.yield(.peerDisconnected(name, reason: "\(error)"))
        }
        core.withLock { core in
            let handshaken = core.candidates[name]?.reached ?? false
            if !handshaken { core.halfOpen -= 1 }
            // Two seeds have nothing for each other, and a connection to ourselves never will. A peer that still
            // wanted data is tried again: Transmission, for one, drops every peer to check a magnet link's metadata.
            // One that hangs up within half a minute (full, or it refuses us) counts a failure, so it is tried
            // less and less often.
            core.candidates.ended(name, giveUp: ourselves || (peerWasSeed && core.remaining == 0), fruitless: lasted < .seconds(30))
        }
    }

    private func wakeAll() {
        for peer in core.withLock({ Array($0.peers.values) }) { peer.sender.wake() }
    }

    /// Every second: rates per peer and for the torrent, averaged over a few seconds.
    private func measureRates() {
        core.withLock { core in
            for peer in core.peers.values {
                peer.control.withLock { control in
                    control.downloadRate = (control.downloadRate * 2 + Int(control.downloaded - control.measuredDownloaded)) / 3
                    control.uploadRate = (control.uploadRate * 2 + Int(control.uploaded - control.measuredUploaded)) / 3
                    control.measuredDownloaded = control.downloaded
                    control.measuredUploaded = control.uploaded
                }
            }
            core.downloadRate = (core.downloadRate * 2 + Int(core.downloaded - core.measured.downloaded)) / 3
            core.uploadRate = (core.uploadRate * 2 + Int(core.uploaded - core.measured.uploaded)) / 3
            core.measured = (core.downloaded, core.uploaded)
        }
    }

    /// A peer that leaves our requests unanswered for a minute is snubbed: they go to other peers, and the
    /// choker stops rewarding it.
    private func releaseSnubbed() {
        let now = ContinuousClock.now
        core.withLock { core in
            for peer in core.peers.values {
                let snub = peer.control.withLock { control in
                    guard control.awaitingBlocks, !control.snubbed, now - control.lastBlock > .seconds(60) else { return false }
                    control.snubbed = true
                    return true
                }
                if snub { core.picker.forget(peer: peer.id) }
            }
        }
    }

    /// Decides whom to upload to and tells the connections whose state changed.
    func rechoke() {
        let settings = context.settings
        let changed: [PeerHandle] = core.withLock { core in
            core.rechokeWanted = false
            let complete = core.remaining == 0
            let peers = Array(core.peers.values)
            let candidates = peers.map { peer in
                peer.control.withLock { control in
                    ChokeCandidate(key: peer.id, isInterested: control.interested, downloadRate: control.downloadRate,
                                   uploadRate: control.uploadRate, isSnubbed: control.snubbed,
                                   connectedAt: peer.connectedAt - started)
                }
            }
            let unchoked: Set<Int> = complete && !settings.seeding ? [] : core.choker.rechoke(candidates, now: .now - started, seeding: complete)
            var changed: [PeerHandle] = []
            for peer in peers {
                let flip = peer.control.withLock { control in
                    let want = unchoked.contains(peer.id)
                    defer { control.unchoke = want }
                    return control.unchoke != want
                }
                if flip { changed.append(peer) }
            }
            return changed
        }
        for peer in changed { peer.sender.wake() }
    }

    /// Every wanted piece is verified.
    func becameComplete() {
        emit.yield(.finished)
        saveResumeData(force: true)
        rechoke()
        if options.stopWhenComplete { stop() }
    }

    /// Writes resume data if pieces were verified since it was last written (or always, if `force`).
    func saveResumeData(force: Bool = false) {
        guard let path = options.resumeFile else { return }
        let verified: Bitfield? = core.withLock { core in
            guard core.resumeDirty || force else { return nil }
            core.resumeDirty = false
            return core.picker.verified
        }
        guard let verified else { return }
        let data = ResumeData.snapshot(of: storage, infoHash: handshake.infoHash, verified: verified)
        do { try data.write(to: path) } catch { emit.yield(.error("resume data: \(error)")) }
    }
}
