import AsyncHTTPClient
import Metainfo
import NIOCore
import NIOSupport

/// Announces and scrapes over HTTP and HTTPS (BEP 3, 23, 7, 48) with async-http-client: redirects followed (at
/// most 5, no loops), one deadline for the whole exchange, and never more than ``TrackerLimits/maxHTTPBody``
/// bytes read.
public struct HTTPTrackerClient: Sendable {
    private let client: HTTPClient
    /// How long one announce or scrape may take, redirects included.
    public var timeout: Duration

    /// The client announces go through unless another is given: `HTTPClient.shared` follows up to 20 redirects.
    /// Never shut down: it lives as long as the process, as `HTTPClient.shared` does.
    public static let defaultClient = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(redirectConfiguration: .follow(max: 5, allowCycles: false)))

    public init(client: HTTPClient = defaultClient, timeout: Duration = .seconds(30)) {
        self.client = client
        self.timeout = timeout
    }

    /// Announces `request` to the tracker at `url` and returns its answer.
    public func announce(_ url: String, _ request: AnnounceRequest) async throws(TrackerError) -> AnnounceResponse {
        try HTTPTrackerCodec.parseAnnounce(try await get(HTTPTrackerCodec.announceURL(url, request)))
    }

    /// Asks the tracker whose announce URL is `url` for a swarm's counts; nil when the tracker does not know it.
    public func scrape(_ url: String, infoHash: SHA1Hash) async throws(TrackerError) -> ScrapeCounts? {
        guard let scrape = HTTPTrackerCodec.scrapeURL(forAnnounce: url) else {
            throw .unsupported("\(url) offers no scrape (its path does not end in announce)")
        }
        return try HTTPTrackerCodec.parseScrape(try await get(HTTPTrackerCodec.scrapeURL(scrape, infoHashes: [infoHash])), infoHash: infoHash)
    }

    private func get(_ url: String) async throws(TrackerError) -> [UInt8] {
        let request: HTTPClient.Request
        do {
            // No pooled connections: announces come minutes apart, and a tracker that closes after each reply (as
            // opentracker does) would otherwise lose the next request written to the closing connection.
            request = try HTTPClient.Request(url: url, headers: ["User-Agent": "Shoal/0.1", "Accept-Encoding": "identity", "Connection": "close"])
        } catch {
            throw .unsupported("not a usable URL: \(url)")
        }
        let delegate = ResponseAccumulator(request: request, maxBodySize: TrackerLimits.maxHTTPBody)
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        let response: HTTPClient.Response
        do {
            guard !Task.isCancelled else { throw TrackerError.cancelled }
            let task = client.execute(request: request, delegate: delegate, deadline: deadline)
            // The future's outcome, not `get()`: see `outcome()`.
            response = try await withTaskCancellationHandler { try await task.futureResult.outcome() } onCancel: { task.cancel() }
        } catch let error as TrackerError {
            throw error
        } catch let error as HTTPClientError where error == .cancelled {
            throw .cancelled
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw .timedOut
        } catch let error as HTTPClientError where error == .redirectCycleDetected || error == .redirectLimitReached {
            throw .transport("too many redirects, or a redirect loop")
        } catch is ResponseAccumulator.ResponseTooBigError {
            throw .malformed("a reply larger than \(TrackerLimits.maxHTTPBody) bytes")
        } catch {
            throw .transport("\(error)")
        }
        let body = response.body.map { Array($0.readableBytesView) } ?? []
        guard (200..<300).contains(response.status.code) else {
            // Some trackers explain a refusal in a bencoded body even with an error status.
            do { _ = try HTTPTrackerCodec.parseAnnounce(body) } catch .failure(let reason) { throw .failure(reason) } catch {}
            throw .httpStatus(Int(response.status.code))
        }
        return body
    }
}
