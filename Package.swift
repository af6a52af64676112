// swift-tools-version: 6.1
import Foundation
import PackageDescription

let package = Package(
    name: "Shoal",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Shoal", targets: ["Shoal"]),
        .executable(name: "shoal", targets: ["ShoalCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
    ],
    targets: [
        .target(name: "Bencode"),
        .target(name: "Metainfo", dependencies: [
            "Bencode",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "Storage", dependencies: ["Metainfo"]),
        .target(name: "NIOSupport", dependencies: ["Metainfo", .product(name: "NIOCore", package: "swift-nio")]),
        .target(name: "PeerWire", dependencies: [
            "Bencode",
            "Metainfo",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .target(name: "Tracker", dependencies: [
            "Bencode",
            "Metainfo",
            "NIOSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .target(name: "TrackerServer", dependencies: [
            "Bencode",
            "Metainfo",
            "Tracker",
            "NIOSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .target(name: "DHT", dependencies: [
            "Bencode",
            "Metainfo",
            "NIOSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .target(name: "LocalDiscovery", dependencies: [
            "Metainfo",
            "NIOSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .target(name: "Engine", dependencies: [
            "Metainfo",
            "Storage",
            "PeerWire",
            "Tracker",
            "LocalDiscovery",
            "DHT",
            "NIOSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .target(name: "Shoal", dependencies: ["Bencode", "Metainfo", "Storage", "PeerWire", "Tracker", "TrackerServer", "LocalDiscovery", "DHT", "Engine"]),
        .executableTarget(name: "ShoalCLI", dependencies: [
            "Shoal",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .testTarget(name: "BencodeTests", dependencies: ["Bencode"]),
        .testTarget(name: "MetainfoTests", dependencies: ["Metainfo"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage"]),
        .testTarget(name: "PeerWireTests", dependencies: ["PeerWire"]),
        .testTarget(name: "LocalDiscoveryTests", dependencies: ["LocalDiscovery"]),
        .testTarget(name: "DHTTests", dependencies: ["DHT"]),
        .testTarget(name: "TrackerTests", dependencies: [
            "Tracker",
            "NIOSupport",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .testTarget(name: "TrackerServerTests", dependencies: [
            "TrackerServer",
            "Tracker",
            "NIOSupport",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .testTarget(name: "EngineTests", dependencies: [
            "Engine",
            "NIOSupport",
            "TrackerServer",
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
        ]),
        .testTarget(name: "InteropTests", dependencies: ["Shoal"], exclude: ["Support"]),
    ],
    swiftLanguageModes: [.v6]
)

// Fuzz targets are built only by Fuzz/run (SHOAL_FUZZ=1) with `--sanitize fuzzer`: they define
// LLVMFuzzerTestOneInput instead of main, so they cannot link in an ordinary build.
if ProcessInfo.processInfo.environment["SHOAL_FUZZ"] != nil {
    package.targets += [
        .executableTarget(name: "FuzzBencode", dependencies: ["Bencode"], path: "Fuzz/FuzzBencode",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzMetainfo", dependencies: ["Metainfo"], path: "Fuzz/FuzzMetainfo",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzMagnet", dependencies: ["Metainfo"], path: "Fuzz/FuzzMagnet",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzPeerWire", dependencies: ["PeerWire"], path: "Fuzz/FuzzPeerWire",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzTracker", dependencies: ["Tracker", "TrackerServer"], path: "Fuzz/FuzzTracker",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzDiscovery", dependencies: ["DHT", "LocalDiscovery", "PeerWire", "Metainfo"], path: "Fuzz/FuzzDiscovery",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    ]
}

// The DHT simulation of bench/dht.sh, built only there (SHOAL_BENCH=1): a benchmark, not part of the product.
if ProcessInfo.processInfo.environment["SHOAL_BENCH"] != nil {
    package.targets += [
        .executableTarget(name: "DHTSimulation", dependencies: ["DHT", "Metainfo"], path: "bench/DHTSimulation"),
    ]
}
