import Metainfo

/// Admits arrivals from the network (DHT queries, local discovery announces) within two bounds: so many from one
/// address per window, and so many from everyone per second. Counts live only for their window, and only admitted
/// arrivals are counted, so the table of sources never holds more than a window's worth of admissions however
/// many addresses send.
package struct ArrivalLimiter: Sendable {
    package let perSource: Int
    package let window: Duration
    package let perSecond: Int
    private var windowStart: ContinuousClock.Instant?
    private var secondStart: ContinuousClock.Instant?
    private var counts: [IPAddress: Int] = [:]
    private var thisSecond = 0

    /// At most `perSource` arrivals from one address in each `window`, and `perSecond` from everyone in a second.
    package init(perSource: Int, per window: Duration, perSecond: Int) {
        self.perSource = perSource
        self.window = window
        self.perSecond = perSecond
    }

    /// Whether an arrival from `ip` at `now` is within both bounds; if so it is counted.
    package mutating func admit(_ ip: IPAddress, now: ContinuousClock.Instant) -> Bool {
        if windowStart.map({ now - $0 >= window }) ?? true {
            windowStart = now
            counts.removeAll(keepingCapacity: true)
        }
        if secondStart.map({ now - $0 >= .seconds(1) }) ?? true {
            secondStart = now
            thisSecond = 0
        }
        guard thisSecond < perSecond, counts[ip, default: 0] < perSource else { return false }
        thisSecond += 1
        counts[ip, default: 0] += 1
        return true
    }
}
