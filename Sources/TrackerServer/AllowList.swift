import Metainfo

/// The info-hashes a tracker serves, read from text as opentracker's `-w` file has them: one hex info-hash per
/// line, 40 digits (v1) or 64 (v2, served under its 20-byte truncation, as v2 clients announce it). Blank lines
/// and lines starting with `#` are skipped.
public enum AllowList {
    /// The hashes, and the numbers (from 1) of lines that hold none.
    public static func parse(_ text: String) -> (hashes: Set<SHA1Hash>, badLines: [Int]) {
        var hashes: Set<SHA1Hash> = []
        var bad: [Int] = []
        for (number, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingPrefix { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed()
            guard !line.isEmpty, line.first != "#" else { continue }
            let hex = String(line)
            if let hash = SHA1Hash(hex: hex) {
                hashes.insert(hash)
            } else if let hash = SHA256Hash(hex: hex) {
                hashes.insert(hash.truncated)
            } else {
                bad.append(number + 1)
            }
        }
        return (hashes, bad)
    }
}
