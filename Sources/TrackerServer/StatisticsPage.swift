/// The tracker's statistics as a small HTML page and as JSON.
enum StatisticsPage {
    private static func rows(_ stats: TrackerStatistics) -> [(String, Int)] {
        [
            ("swarms", stats.swarms), ("seeders", stats.seeders), ("leechers", stats.leechers),
            ("udpConnects", stats.udpConnects), ("udpAnnounces", stats.udpAnnounces), ("udpScrapes", stats.udpScrapes),
            ("httpAnnounces", stats.httpAnnounces), ("httpScrapes", stats.httpScrapes),
            ("refused", stats.refused), ("dropped", stats.dropped), ("uptimeSeconds", stats.uptime),
        ]
    }

    static func json(_ stats: TrackerStatistics) -> String {
        "{" + rows(stats).map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}\n"
    }

    static func html(_ stats: TrackerStatistics) -> String {
        """
        <!doctype html>
        <html><head><meta charset="utf-8"><title>Shoal tracker</title>
        <style>body{font-family:sans-serif;margin:2em}td{padding:.2em 1em}td:last-child{text-align:right}</style></head>
        <body><h1>Shoal tracker</h1><table>
        \(rows(stats).map { "<tr><td>\($0.0)</td><td>\($0.1)</td></tr>" }.joined(separator: "\n"))
        </table><p><a href="/stats.json">JSON</a></p></body></html>

        """
    }
}
