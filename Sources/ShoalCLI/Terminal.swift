#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import Synchronization

/// Output helpers shared by the commands: errors on one line, progress only on a terminal.
enum Terminal {
    /// Prints `message` to standard error as one line.
    static func error(_ message: String) {
        let line = "shoal: error: " + message.replacingOccurrences(of: "\n", with: " ") + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// Prints a warning to standard error as one line.
    static func warning(_ message: String) {
        FileHandle.standardError.write(Data(("shoal: warning: " + message.replacingOccurrences(of: "\n", with: " ") + "\n").utf8))
    }

    /// Reports bad input (exit status 2): a torrent or magnet link that cannot be used.
    static func badInput(_ message: String) -> ExitCode {
        error(message)
        return ExitCode(2)
    }

    /// Whether standard error is a terminal, where a live progress line makes sense.
    static var isInteractive: Bool { isatty(STDERR_FILENO) == 1 }
}

/// A progress bar on standard error, redrawn at most ten times a second; silent when not on a terminal.
final class ProgressBar: Sendable {
    private let total: Int64
    private let label: String
    private let enabled: Bool
    private let state = Mutex((lastDraw: 0.0, started: Date()))

    init(label: String, total: Int64) {
        self.label = label
        self.total = max(total, 1)
        self.enabled = Terminal.isInteractive
    }

    func update(_ done: Int64) {
        guard enabled else { return }
        let now = Date().timeIntervalSinceReferenceDate
        let elapsed: Double? = state.withLock { state in
            guard now - state.lastDraw >= 0.1 || done >= total else { return nil }
            state.lastDraw = now
            return Date().timeIntervalSince(state.started)
        }
        guard let elapsed else { return }
        let fraction = min(1, Double(done) / Double(total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = String(format: "\r%@ [%@] %5.1f%%  %@/s ", label, bar, fraction * 100, formatBytes(Int64(rate)))
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}

/// Bytes in binary units, as people read them: `1.5 GiB`.
func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}

/// Prints a value as one JSON object on standard output.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}
