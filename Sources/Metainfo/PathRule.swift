/// The one rule by which Shoal turns path components from a torrent into names that are safe to create
/// below a download folder.
///
/// A torrent is hostile input: its paths may try to climb out of the download folder (`..`), start at the
/// file system root, hide control characters or name devices. Every component of every path (file paths,
/// symlink targets and the torrent's name) goes through this rule before anything reaches the disk:
///
/// 1. The bytes are read as UTF-8; invalid sequences become U+FFFD.
/// 2. Control characters (U+0000 to U+001F and U+007F) and the separators `/` and `\` become `_`, so a
///    component can never hold a path of its own (which rules out absolute paths too).
/// 3. Components that are empty, `.` or `..` are dropped.
/// 4. Names that Windows reserves for devices (`CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`, `LPT0`–`LPT9`, in any
///    case, with or without an extension) get a leading `_`.
/// 5. A component longer than 255 bytes of UTF-8 is cut at a character boundary to fit, keeping an extension
///    of up to 32 bytes.
/// 6. A file path left with no components, or deeper than ``maxDepth`` components, is refused; so are two files
///    that end up at the same path, or a file whose path is a folder of another.
///
/// Symlink targets (BEP 47) are relative to the torrent's root folder and go through the same rule, so they
/// never point outside it either.
public enum PathRule {
    /// The most components one path may have.
    public static let maxDepth = 128
    /// The longest component, in bytes of UTF-8 (the common file system limit).
    public static let maxComponentBytes = 255

    private static let reservedNames: Set<String> = {
        var names: Set<String> = ["CON", "PRN", "AUX", "NUL"]
        for i in 0...9 {
            names.insert("COM\(i)")
            names.insert("LPT\(i)")
        }
        return names
    }()

    /// The safe form of one component, or nil if the rule drops it (empty, `.` or `..`).
    public static func sanitize(component bytes: [UInt8]) -> String? {
        let decoded = String(decoding: bytes, as: UTF8.self)
        var scalars = String.UnicodeScalarView()
        for scalar in decoded.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7f || scalar == "/" || scalar == "\\" {
                scalars.append("_")
            } else {
                scalars.append(scalar)
            }
        }
        var name = String(scalars)
        if name.isEmpty || name == "." || name == ".." { return nil }
        let stem = name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? name
        if reservedNames.contains(stem.uppercased()) { name = "_" + name }
        return truncate(name)
    }

    /// The safe form of a path given as components; nil if nothing is left of it.
    public static func sanitize(path components: [[UInt8]]) -> [String]? {
        let safe = components.compactMap { sanitize(component: $0) }
        return safe.isEmpty ? nil : safe
    }

    /// Cuts `name` to ``maxComponentBytes`` at a character boundary, keeping a short extension.
    static func truncate(_ name: String) -> String {
        guard name.utf8.count > maxComponentBytes else { return name }
        var suffix = ""
        if let dot = name.lastIndex(of: "."), dot != name.startIndex, name[dot...].utf8.count <= 32 {
            suffix = String(name[dot...])
        }
        var stem = ""
        let budget = maxComponentBytes - suffix.utf8.count
        for character in name.dropLast(suffix.count) {
            if stem.utf8.count + character.utf8.count > budget { break }
            stem.append(character)
        }
        return stem + suffix
    }
}
