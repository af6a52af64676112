#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Metainfo
import Synchronization

/// Files below a download folder, read and written in place with `pread` and `pwrite`.
///
/// Paths come from the torrent, already made safe by `PathRule`; this backend adds a second guard of its
/// own: it opens every folder and file one component at a time with `O_NOFOLLOW`, so a symlink planted in
/// the download folder cannot redirect a write outside it. Reading never creates anything; the first write
/// to a file creates it and its folders, sized sparsely or preallocated as asked.
public final class FileStorage: StorageBackend {
    /// How a file's space is taken when it is created.
    public enum Allocation: Sendable, Hashable {
        /// Set the size only: untouched ranges take no disk space.
        case sparse
        /// Reserve all the space at once (`posix_fallocate`), which avoids fragmentation and early surprises.
        case preallocate
    }

    /// The download folder.
    public let root: String
    /// The files, indexed as in the torrent.
    public let files: [FileEntry]
    public let allocation: Allocation
    /// How many descriptors stay open at most while idle; more are opened while in use.
    public let maxOpenFiles: Int

    private struct Handle {
        var descriptor: Int32
        var writable: Bool
        var users: Int
        var lastUse: UInt64
    }

    private struct Handles {
        var open: [Int: Handle] = [:]
        /// Read-only descriptors replaced by writable ones while readers still used them, with their reader
        /// counts; each is closed when its last reader lets go.
        var retired: [Int32: Int] = [:]
        var clock: UInt64 = 0
    }

    private let handles = Mutex(Handles())

    public init(root: String, files: [FileEntry], allocation: Allocation = .sparse, maxOpenFiles: Int = 256) {
        self.root = root
        self.files = files
        self.allocation = allocation
        self.maxOpenFiles = maxOpenFiles
    }

    deinit {
        handles.withLock { state in
            for handle in state.open.values { close(handle.descriptor) }
            for descriptor in state.retired.keys { close(descriptor) }
        }
    }

    private func path(of file: FileIndex) -> String { files[file.value].path.joined(separator: "/") }

    public func read(file: FileIndex, at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws(StorageError) -> Int {
        try withDescriptor(file, writable: false) { descriptor throws(StorageError) -> Int in
            guard let descriptor else { return 0 }
            var done = 0
            while done < buffer.count {
                let n = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StorageError(.system(operation: "read", errno: errno), path: path(of: file))
                }
                if n == 0 { break }
                done += n
            }
            return done
        }
    }

    public func write(file: FileIndex, at offset: Int64, from buffer: UnsafeRawBufferPointer) throws(StorageError) {
        try withDescriptor(file, writable: true) { descriptor throws(StorageError) in
            guard let descriptor else { throw StorageError(.outOfBounds("file could not be created"), path: path(of: file)) }
            var done = 0
            while done < buffer.count {
                let n = pwrite(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw StorageError(.system(operation: "write", errno: errno), path: path(of: file))
                }
                done += n
            }
        }
    }

    public func size(of file: FileIndex) throws(StorageError) -> Int64? {
        try stamp(of: file)?.size
    }

    public func stamp(of file: FileIndex) throws(StorageError) -> FileStamp? {
        try withDescriptor(file, writable: false) { descriptor throws(StorageError) -> FileStamp? in
            guard let descriptor else { return nil }
            var info = stat()
            guard fstat(descriptor, &info) == 0 else {
                throw StorageError(.system(operation: "stat", errno: errno), path: path(of: file))
            }
            let modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            return FileStamp(size: Int64(info.st_size), modified: modified)
        }
    }

    /// Runs `body` with an open descriptor for `file` (nil if reading and the file does not exist).
    private func withDescriptor<T>(_ file: FileIndex, writable: Bool,
                                   _ body: (Int32?) throws(StorageError) -> T) throws(StorageError) -> T {
        let descriptor = try acquire(file, writable: writable)
        defer { if let descriptor { release(file, descriptor) } }
        return try body(descriptor)
    }

    private func acquire(_ file: FileIndex, writable: Bool) throws(StorageError) -> Int32? {
        let cached: Int32? = handles.withLock { state in
            state.clock += 1
            guard var handle = state.open[file.value], handle.writable || !writable else { return nil }
            handle.users += 1
            handle.lastUse = state.clock
            state.open[file.value] = handle
            return handle.descriptor
        }
        if let cached { return cached }

        guard let descriptor = try open(file, writable: writable) else { return nil }
        var toClose: [Int32] = []
        let chosen: Int32 = handles.withLock { state in
            if var existing = state.open[file.value] {
                if existing.writable || !writable {
                    // Another thread opened it meanwhile: use theirs.
                    toClose.append(descriptor)
                    existing.users += 1
                    state.open[file.value] = existing
                    return existing.descriptor
                }
                // Readers may still hold the read-only descriptor: it goes when the last of them lets go.
                if existing.users == 0 { toClose.append(existing.descriptor) } else { state.retired[existing.descriptor] = existing.users }
            }
            state.open[file.value] = Handle(descriptor: descriptor, writable: writable, users: 1, lastUse: state.clock)
            toClose += evictIdle(&state)
            return descriptor
        }
        for descriptor in toClose { close(descriptor) }
        return chosen
    }

    private func release(_ file: FileIndex, _ descriptor: Int32) {
        let toClose: [Int32] = handles.withLock { state in
            if state.open[file.value]?.descriptor == descriptor {
                state.open[file.value]?.users -= 1
            } else if let users = state.retired[descriptor] {
                if users > 1 {
                    state.retired[descriptor] = users - 1
                } else {
                    state.retired[descriptor] = nil
                    return [descriptor]
                }
            }
            return evictIdle(&state)
        }
        for descriptor in toClose { close(descriptor) }
    }

    /// Forgets the least recently used idle descriptors beyond ``maxOpenFiles``; the caller closes them
    /// after letting go of the lock.
    private func evictIdle(_ state: inout Handles) -> [Int32] {
        guard state.open.count > maxOpenFiles else { return [] }
        let idle = state.open.filter { $0.value.users == 0 }.sorted { $0.value.lastUse < $1.value.lastUse }
        var evicted: [Int32] = []
        for (index, handle) in idle.prefix(state.open.count - maxOpenFiles) {
            evicted.append(handle.descriptor)
            state.open[index] = nil
        }
        return evicted
    }

    /// Opens the file one component at a time below the root, never following a symlink.
    private func open(_ file: FileIndex, writable: Bool) throws(StorageError) -> Int32? {
        let entry = files[file.value]
        let shown = path(of: file)
        if writable {
            do { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
                throw StorageError(.system(operation: "create folder", errno: posixCode(of: error)), path: root)
            }
        }
        var directory = openFolder(root)
        guard directory >= 0 else {
            if errno == ENOENT { return nil }
            throw StorageError(.system(operation: "open folder", errno: errno), path: root)
        }
        for component in entry.path.dropLast() {
            var next = openat(directory, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if next < 0, errno == ENOENT, writable {
                if mkdirat(directory, component, 0o755) != 0, errno != EEXIST {
                    let code = errno
                    close(directory)
                    throw StorageError(.system(operation: "create folder", errno: code), path: shown)
                }
                next = openat(directory, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            let code = errno
            close(directory)
            guard next >= 0 else {
                if code == ENOENT { return nil }
                if code == ELOOP || code == ENOTDIR { throw StorageError(.unexpectedFileType, path: shown) }
                throw StorageError(.system(operation: "open folder", errno: code), path: shown)
            }
            directory = next
        }
        // O_NONBLOCK: a FIFO planted where a file belongs must not hang the open; regular files ignore it.
        let flags = (writable ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK
        let descriptor = openat(directory, entry.path.last ?? "", flags, 0o644)
        let code = errno
        close(directory)
        guard descriptor >= 0 else {
            if code == ENOENT, !writable { return nil }
            if code == ELOOP || code == EISDIR { throw StorageError(.unexpectedFileType, path: shown) }
            throw StorageError(.system(operation: "open", errno: code), path: shown)
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw StorageError(.unexpectedFileType, path: shown)
        }
        if writable, Int64(info.st_size) < entry.length {
            let result = allocation == .preallocate
                ? posix_fallocate(descriptor, 0, off_t(entry.length))
                : (ftruncate(descriptor, off_t(entry.length)) == 0 ? 0 : errno)
            if result != 0 {
                close(descriptor)
                throw StorageError(.system(operation: "allocate", errno: result), path: shown)
            }
        }
        return descriptor
    }
}

/// Opens a folder for `openat`; a free function because inside `FileStorage` the name `open` is its own method.
private func openFolder(_ path: String) -> Int32 { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }

/// The POSIX code behind a Foundation error, or EIO when it has none.
func posixCode(of error: any Error) -> Int32 {
    let error = error as NSError
    if error.domain == NSPOSIXErrorDomain { return Int32(error.code) }
    if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
        return Int32(underlying.code)
    }
    return EIO
}

/// The C library's text for an `errno` value.
func systemErrorText(_ code: Int32) -> String { String(cString: strerror(code)) }
