import ArgumentParser

/// The `shoal` command line: a BitTorrent node's tools.
@main
struct ShoalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shoal",
        abstract: "A BitTorrent peer: make, inspect and check torrents, download and seed them, run a tracker.",
        version: shoalVersion,
        subcommands: [CreateCommand.self, InfoCommand.self, VerifyCommand.self, DownloadCommand.self, SeedCommand.self,
                      TrackerCommand.self, DHTCommand.self]
    )
}

/// Shoal's version, shown by `--version` and written into the torrents it makes.
let shoalVersion = "0.1.0"
