import Metainfo

/// A set of IP address ranges, for the user's block list and allow-only list.
///
/// Loads the two text formats Transmission and qBittorrent read: PeerGuardian's P2P lines
/// (`Some organisation:1.2.3.0-1.2.3.255`) and eMule's DAT lines
/// (`001.002.003.000 - 001.002.003.255 , 000 , Some organisation`, where an access level above 127 means
/// "allowed" and the line is left out). Lookups are a binary search over merged ranges.
public struct IPFilter: Sendable, Hashable {
    private var v4: [ClosedRange<UInt32>] = []
    private var v6: [ClosedRange<UInt128>] = []

    /// An empty filter: it contains no address.
    public init() {}

    /// What loading a list found.
    public struct LoadReport: Sendable, Hashable {
        /// Ranges taken from the list.
        public var ranges = 0
        /// Non-blank, non-comment lines that could not be read, by line number (the first 100).
        public var badLines: [Int] = []
    }

    /// Parses a list in P2P or DAT format. Lines that cannot be read are skipped and reported, as other
    /// clients do, rather than failing the whole list.
    public static func parse(_ text: String) -> (filter: IPFilter, report: LoadReport) {
        var filter = IPFilter()
        var report = LoadReport()
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix("//") { continue }
            switch parseLine(trimmed) {
            case .range(let low, let high):
                filter.insert(low, high)
                report.ranges += 1
            case .allowed:
                continue
            case .unreadable:
                if report.badLines.count < 100 { report.badLines.append(number + 1) }
            }
        }
        filter.normalize()
        return (filter, report)
    }

    /// Adds one range (both ends of the same family; reversed ends are swapped).
    public mutating func add(_ low: IPAddress, _ high: IPAddress) {
        insert(low, high)
        normalize()
    }

    /// Whether `address` (IPv4-mapped IPv6 counts as IPv4) lies in some range.
    public func contains(_ address: IPAddress) -> Bool {
        switch address.unmapped {
        case .v4(let value): Self.search(v4, value)
        case .v6(let value): Self.search(v6, value)
        }
    }

    /// Whether the filter has no ranges.
    public var isEmpty: Bool { v4.isEmpty && v6.isEmpty }
    /// The number of disjoint ranges after merging.
    public var rangeCount: Int { v4.count + v6.count }

    private mutating func insert(_ low: IPAddress, _ high: IPAddress) {
        switch (low.unmapped, high.unmapped) {
        case (.v4(let a), .v4(let b)): v4.append(min(a, b)...max(a, b))
        case (.v6(let a), .v6(let b)): v6.append(min(a, b)...max(a, b))
        default: break
        }
    }

    private mutating func normalize() {
        v4 = Self.merged(v4)
        v6 = Self.merged(v6)
    }

    /// Sorted, with overlapping and touching ranges joined.
    private static func merged<T: FixedWidthInteger>(_ ranges: [ClosedRange<T>]) -> [ClosedRange<T>] {
        var result: [ClosedRange<T>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = result.last, last.upperBound == T.max || range.lowerBound <= last.upperBound + 1 {
                result[result.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }

    private static func search<T: Comparable>(_ ranges: [ClosedRange<T>], _ value: T) -> Bool {
        var low = 0
        var high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < value { low = mid + 1 } else { high = mid }
        }
        return low < ranges.count && ranges[low].contains(value)
    }

    private enum Line {
        case range(IPAddress, IPAddress)
        case allowed
        case unreadable
    }

    private static func parseLine(_ line: Substring) -> Line {
        if line.contains(",") {
            // DAT: "first - last , level , description"
            let fields = line.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
            let ends = fields[0].split(separator: "-", maxSplits: 1)
            guard ends.count == 2, let low = address(ends[0].trimmingWhitespace()), let high = address(ends[1].trimmingWhitespace()) else {
                return .unreadable
            }
            if fields.count > 1, let level = Int(fields[1].trimmingWhitespace()), level > 127 { return .allowed }
            return .range(low, high)
        }
        // P2P: "description:first-last"; the description may hold colons, and IPv6 ends do too, so the start
        // address is the longest text after a colon that reads as one.
        guard let dash = line.lastIndex(of: "-"), let high = address(line[line.index(after: dash)...].trimmingWhitespace()) else {
            return .unreadable
        }
        let head = line[..<dash]
        if let low = address(head.trimmingWhitespace()) { return .range(low, high) }
        var index = head.startIndex
        while let colon = head[index...].firstIndex(of: ":") {
            if let low = address(head[head.index(after: colon)...].trimmingWhitespace()) { return .range(low, high) }
            index = head.index(after: colon)
        }
        return .unreadable
    }

    /// IPv4 with leading zeros allowed (lists pad octets to three digits), or IPv6.
    private static func address(_ text: Substring) -> IPAddress? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4 {
            var value: UInt32 = 0
            for part in parts {
                guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit), let octet = UInt32(part), octet < 256 else { return nil }
                value = value << 8 | octet
            }
            return .v4(value)
        }
        return text.contains(":") ? IPAddress(text) : nil
    }
}

private extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

private extension Substring {
    func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first.isWhitespace { result.removeFirst() }
        while let last = result.last, last.isWhitespace { result.removeLast() }
        return result
    }
}
