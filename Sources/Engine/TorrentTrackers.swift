import Metainfo
import Tracker

/// One tracker of a torrent as the user sees it: where it is, how the last announce went, what it said.
public struct TrackerStatus: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        /// Not asked yet (another tracker of its tier may be answering).
        case waiting
        case announcing
        /// The last announce was answered.
        case working
        /// The last announce failed; ``TrackerStatus/lastError`` says why.
        case failed
    }

    public let url: String
    /// Its tier (BEP 12), from 0.
    public let tier: Int
    public var state: State = .waiting
    /// Why the latest failed announce failed, kept after later successes until the next failure replaces it.
    public var lastError: String?
    /// The warning of the latest answer, if it had one.
    public var warning: String?
    /// Peers in the latest answer.
    public var peers = 0
    public var seeders: Int?
    public var leechers: Int?
    /// Seconds until the next announce, when one is planned.
    public var nextAnnounceIn: Int?

    public init(url: String, tier: Int) {
        self.url = url
        self.tier = tier
    }
}

extension Torrent {
    /// Every tracker of the torrent and those the options add, as tiers (each added one a tier of its own).
    var trackerTiers: TrackerTiers { TrackerTiers(metainfo.trackers + options.extraTrackers.map { [$0] }) }

    /// Announces to every tier at once until the torrent stops: `started` first, `completed` when the download
    /// finishes, a periodic announce at the interval the tracker asks (never below the session's minimum), and
    /// `stopped` on the way out. Within a tier, BEP 12: the first tracker that answers is used and moves to the
    /// front; failing trackers are retried after a back-off. Peers the trackers name become candidates.
    func announceToTrackers() async {
        let tiers = trackerTiers
        guard context.settings.trackers.enabled, !tiers.tiers.isEmpty else { return }
        trackerStatus.withLock { status in
            status = tiers.tiers.enumerated().flatMap { tier, urls in urls.map { TrackerStatus(url: $0, tier: tier) } }
        }
        // When the torrent stops, each tier's task ends after the announce under way, if any, and says which of its
        // trackers last answered; those are told `stopped`. An announce still waiting after a grace period (a
        // tracker gone silent) is cancelled. Not at once: a tracker may already have acted on the request, and
        // acting on it after our `stopped` would leave us listed.
        enum Ending { case tier(TierEnd?), graceOver }
        let ends = await withTaskGroup(of: Ending.self) { group in
            for tier in tiers.tiers.indices {
                group.addTask { .tier(await self.runTier(tier, of: tiers)) }
            }
            while !core.withLock({ $0.stopped }) { try? await Task.sleep(for: .milliseconds(250)) }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return .graceOver
            }
            var ends: [TierEnd] = []
            var running = tiers.tiers.count
            while running > 0, let ending = await group.next() {
                switch ending {
                case .tier(let end):
                    running -= 1
                    if let end { ends.append(end) }
                case .graceOver:
                    group.cancelAll()
                }
            }
            group.cancelAll()
            return ends
        }
        // A short, single try each: stopping should not wait on a tracker that went away. A download that
        // finished just before the stop (so its tier had no time to say so) says `completed` first, so the
        // tracker counts it.
        let timeout = min(context.settings.trackers.timeout, .seconds(5))
        await withTaskGroup(of: Void.self) { group in
            for end in ends {
                group.addTask {
                    for event in (end.owesCompleted ? [.completed] : []) + [AnnounceEvent.stopped] {
                        _ = try? await self.context.announce(end.url, self.announceRequest(event: event, trackerID: end.trackerID), timeout: timeout,
                                                     attempts: 1)
                    }
                }
            }
        }
    }

    /// How a tier ended: the tracker that answered last, what it asked to be sent back, and whether it has yet
    /// to hear that the download completed.
    private struct TierEnd: Sendable {
        let url: String
        let trackerID: [UInt8]?
        let owesCompleted: Bool
    }

    /// One tier's announces, until the torrent stops or the task is cancelled. Each tier's task keeps its own copy
    /// of the tiers and promotes only within its tier.
    private func runTier(_ tier: Int, of tiers: TrackerTiers) async -> TierEnd? {
        var order = tiers
        let startedIncomplete = !isComplete
        var event = AnnounceEvent.started
        var sentCompleted = false
        var lastWorking: String?
        /// The `tracker id` each tracker gave, sent back to it (BEP 3).
        var trackerIDs: [String: [UInt8]] = [:]
        var failures = 0
        var next = ContinuousClock.now
        while !stopping {
            // Once, when the download finishes; a failed `completed` waits for the back-off like any announce.
            if startedIncomplete, !sentCompleted, lastWorking != nil, event != .completed, isComplete {
                event = .completed
                next = .now
            }
            if next <= .now {
                var answered = false
                for url in order.tiers[tier] where !stopping {
                    updateTracker(url) { $0.state = .announcing; $0.nextAnnounceIn = nil }
                    let request = announceRequest(event: event, trackerID: trackerIDs[url])
                    do {
                        let response = try await context.announce(url, request)
                        let interval = context.settings.trackers.interval(after: response)
                        next = .now + .seconds(interval)
                        addPeers(response.peers)
                        updateTracker(url) { $0.record(response, next: interval) }
                        if let id = response.trackerID { trackerIDs[url] = id }
                        if event == .completed { sentCompleted = true }
                        event = .none
                        lastWorking = url
                        order.promote(url, inTier: tier)
                        failures = 0
                        answered = true
                        break
                    } catch .cancelled {
                        updateTracker(url, announcing: false) { $0.state = .waiting }
                    } catch {
                        updateTracker(url) { $0.state = .failed; $0.lastError = "\(error)" }
                    }
                }
                if !answered {
                    failures += 1
                    let delay = SessionSettings.Trackers.retryDelay(afterFailures: failures)
                    next = .now + .seconds(delay)
                    for url in order.tiers[tier] { updateTracker(url, announcing: false) { $0.nextAnnounceIn = delay } }
                }
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
        guard let lastWorking else { return nil }
        return TierEnd(url: lastWorking, trackerID: trackerIDs[lastWorking], owesCompleted: startedIncomplete && !sentCompleted && isComplete)
    }

    /// Whether a tier should start no more announces: the torrent stops, or the tier's task was cancelled.
    private var stopping: Bool { Task.isCancelled || core.withLock { $0.stopped } }

    private func announceRequest(event: AnnounceEvent, trackerID: [UInt8]?) -> AnnounceRequest {
        let stats = stats
        return AnnounceRequest(infoHash: handshake.infoHash, peerID: context.peerID.bytes, port: UInt16(context.listenPort ?? 0),
                               uploaded: stats.uploaded, downloaded: stats.downloaded, left: stats.bytesLeft, event: event,
                               numWant: event == .stopped ? 0 : context.settings.trackers.numWant, key: context.trackerKey,
                               trackerID: trackerID)
    }

    /// Changes a tracker's status and, unless `announcing` is false, tells the user.
    private func updateTracker(_ url: String, announcing: Bool = true, _ change: (inout TrackerStatus) -> Void) {
        let updated = trackerStatus.withLock { list -> TrackerStatus? in
            guard let index = list.firstIndex(where: { $0.url == url }) else { return nil }
            change(&list[index])
            return list[index]
        }
        if announcing, let updated { emit.yield(.tracker(updated)) }
    }
}

extension TrackerStatus {
    /// An answer came: the tracker works, and says this of the swarm; the next announce is in `next` seconds.
    mutating func record(_ response: AnnounceResponse, next: Int) {
        state = .working
        warning = response.warning
        peers = response.peers.count
        seeders = response.seeders
        leechers = response.leechers
        nextAnnounceIn = next
    }
}

extension SessionSettings.Trackers {
    /// Seconds to the next announce after an answer: the tracker's interval, never below its `min interval` or
    /// the session's minimum.
    func interval(after response: AnnounceResponse) -> Int {
        max(response.interval, response.minInterval ?? 0, Int(minimumInterval.components.seconds))
    }

    /// Seconds before trying again after `failures` failed rounds in a row: 60 s, doubling, at most 30 minutes.
    static func retryDelay(afterFailures failures: Int) -> Int { min(60 << min(failures - 1, 5), 1800) }
}

extension SessionContext {
    /// One announce to one tracker, by its scheme; `timeout` and `attempts` override the session's settings
    /// (a last `stopped` is a short, single try).
    func announce(_ url: String, _ request: AnnounceRequest, timeout: Duration? = nil,
                  attempts: Int? = nil) async throws(TrackerError) -> AnnounceResponse {
        let settings = settings.trackers
        switch try TrackerURL(url).scheme {
        case .http, .https:
            return try await HTTPTrackerClient(timeout: timeout ?? settings.timeout).announce(url, request)
        case .udp:
            var configuration = UDPTrackerClient.Configuration()
            configuration.retransmitBase = timeout ?? settings.timeout
            configuration.attempts = attempts ?? configuration.attempts
            return try await udpTrackers.announce(url, request, configuration: configuration)
        }
    }
}
