import Foundation
import Testing

/// A finished process: exit status and what it printed.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion, killing it after `timeout` seconds, and captures its output.
func runTool(_ executable: String, _ arguments: [String], in folder: URL? = nil, timeout: TimeInterval = 300,
             environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    if let folder { process.currentDirectoryURL = folder }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Drain both pipes while waiting, so a chatty tool cannot block on a full pipe.
    let collected = OutputCollector()
    let group = DispatchGroup()
    for (pipe, isOut) in [(out, true), (err, false)] {
        group.enter()
        DispatchQueue.global().async {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            collected.set(data, isOut: isOut)
            group.leave()
        }
    }
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning, Date() < deadline { usleep(20_000) }
    if process.isRunning {
        process.terminate()
        usleep(200_000)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    process.waitUntilExit()
    group.wait()
    return ProcessResult(status: process.terminationStatus, stdout: collected.out, stderr: collected.err)
}

private final class OutputCollector: @unchecked Sendable {
    // Safe: writes hold `lock`; reads happen only after group.wait(), which orders them after the writes.
    var out = ""
    var err = ""
    private let lock = NSLock()
    func set(_ data: Data, isOut: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if isOut { out = String(decoding: data, as: UTF8.self) } else { err = String(decoding: data, as: UTF8.self) }
    }
}

/// The real programs the interop tests drive. The test command (Scripts/test) installs them.
enum Tools {
    /// The `shoal` binary built beside this test bundle.
    static var shoal: String {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        // On Linux the tests run from `<build>/ShoalPackageTests.xctest`; the products sit beside it.
        if folder.pathExtension == "xctest" { folder = folder.deletingLastPathComponent() }
        return folder.appendingPathComponent("shoal").path
    }

    /// libtorrent's Python binding lives in Debian's interpreter, not in whatever python3 is first on PATH.
    static let python = "/usr/bin/python3"

    /// The libtorrent helper script (info, check, create), kept beside these tests.
    static var ltTool: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Support/lt_tool.py").path
    }

    static let mktorrent = "/usr/bin/mktorrent"
    static let transmissionShow = "/usr/bin/transmission-show"

    /// Where shoal keeps resume data in tests: a folder of this test process, not the user's.
    static let stateHome = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-interop-state-\(getpid())").path

    /// The environment shoal runs in: the test's own, with ``stateHome``.
    static var shoalEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.merging(["XDG_STATE_HOME": stateHome]) { $1 }
    }

    /// Runs shoal and returns its result.
    static func runShoal(_ arguments: [String], in folder: URL? = nil, timeout: TimeInterval = 300) throws -> ProcessResult {
        try #require(FileManager.default.isExecutableFile(atPath: shoal), "shoal binary missing at \(shoal): build the package first")
        return try runTool(shoal, loopbackOnly(arguments), in: folder, timeout: timeout, environment: shoalEnvironment)
    }

    /// Shoal's arguments with local discovery off unless the test chose its interfaces, and the DHT off unless
    /// the test named its bootstrap nodes: on by default, they would multicast on every interface of the machine
    /// and join the public DHT, and tests send nothing beyond loopback and the network namespaces they make.
    static func loopbackOnly(_ arguments: [String]) -> [String] {
        guard let command = arguments.first, ["download", "seed", "info"].contains(command) else { return arguments }
        var arguments = arguments
        if command != "info", !arguments.contains("--lsd-interface") { arguments.append("--no-lsd") }
        if !arguments.contains("--dht-bootstrap") { arguments.append("--no-dht") }
        return arguments
    }

    /// Runs lt_tool.py and decodes its JSON output.
    static func libtorrent(_ arguments: [String]) throws -> [String: Any] {
        let result = try runTool(python, [ltTool] + arguments)
        #expect(result.status == 0, "lt_tool \(arguments.first ?? "") failed: \(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }
}

/// A temporary folder removed when the value goes.
final class TemporaryFolder {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("shoal-interop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `count` pseudo-random bytes (seeded, so runs repeat) to `relative`, creating folders.
    @discardableResult
    func file(_ relative: String, size count: Int, seed: UInt64 = 1) throws -> URL {
        let target = url.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        var state = seed &+ UInt64(count)
        var bytes = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
        }
        try Data(bytes).write(to: target)
        return target
    }
}

/// Flips the bits of one byte of a file in place.
func flipByte(in file: URL, at offset: Int) throws {
    let handle = try FileHandle(forUpdating: file)
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    let old = try #require(try handle.read(upToCount: 1)?.first)
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: [~old])
}

/// `shoal info --json` decoded.
struct ShoalInfo: Decodable {
    struct File: Decodable, Hashable {
        var path: String
        var length: Int64
        var padding: Bool
    }
    var name: String?
    var totalSize: Int64?
    var pieceLength: Int?
    var pieceCount: Int?
    var infoHashV1: String?
    var infoHashV2: String?
    var `private`: Bool?
    var files: [File]?
    var trackers: [[String]]
    var webSeeds: [String]
    var magnet: String
}

/// `shoal verify --json` decoded.
struct ShoalVerify: Decodable {
    var pieces: Int
    var good: Int
    var missing: [Int]
    var bad: [Int]
}

/// A tool left running in the background (a seeder), stopped by closing its standard input or, failing
/// that, by a signal when the value goes.
final class BackgroundTool {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()

    /// `errors`: a file for the tool's standard error (discarded without one).
    init(_ executable: String, _ arguments: [String], errors: URL? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if executable == Tools.shoal {
            process.environment = Tools.shoalEnvironment
            process.arguments = Tools.loopbackOnly(arguments)
        }
        process.standardInput = input
        process.standardOutput = output
        if let errors {
            _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: errors)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
    }

    /// The first line the tool prints, waiting at most `timeout` seconds.
    func firstLine(timeout: TimeInterval = 30) -> String? {
        let handle = output.fileHandleForReading
        let result = LineBox()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            var bytes: [UInt8] = []
            while true {
                let data = handle.readData(ofLength: 1)
                guard let byte = data.first, byte != UInt8(ascii: "\n") else { break }
                bytes.append(byte)
            }
            result.set(String(decoding: bytes, as: UTF8.self))
            done.signal()
        }
        return done.wait(timeout: .now() + timeout) == .success ? result.value : nil
    }

    /// Sends `signal` to the tool and waits for it to end.
    func kill(_ signal: Int32) {
        Foundation.kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }

    deinit {
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
        // A child of Swift's Process may have SIGTERM blocked (Python's http.server does): then SIGKILL.
        let killAt = Date().addingTimeInterval(5)
        while process.isRunning, Date() < killAt { usleep(20_000) }
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

private final class LineBox: @unchecked Sendable {
    // Safe: written once on the reader's queue before it signals the semaphore the caller waits on.
    private(set) var value: String?
    func set(_ line: String) { value = line }
}
