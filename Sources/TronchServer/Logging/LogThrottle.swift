package import Logging
import Synchronization

/// Lets one line per topic through per interval and counts the rest, so an outage that fails every request
/// writes a line every few seconds instead of one per request.
package final class LogThrottle: Sendable {
    private struct Topic {
        var lastLogged: ContinuousClock.Instant
        var suppressed: Int
    }

    private let topics = Mutex<[String: Topic]>([:])
    private let interval: Duration

    package init(interval: Duration = .seconds(10)) { self.interval = interval }

    /// Logs through `logger` unless `topic` was logged within the interval; a line that gets through carries
    /// how many were suppressed since the previous one.
    package func log(
        _ level: Logger.Level,
        _ message: @autoclosure () -> Logger.Message,
        topic: String,
        metadata: Logger.Metadata = [:],
        logger: Logger
    ) {
        let now = ContinuousClock.now
        let suppressed: Int? = topics.withLock { topics in
            if var entry = topics[topic], now - entry.lastLogged < interval {
                entry.suppressed += 1
                topics[topic] = entry
                return nil
            }
            let suppressed = topics[topic]?.suppressed ?? 0
            topics[topic] = Topic(lastLogged: now, suppressed: 0)
            return suppressed
        }
        guard let suppressed else { return }
        var metadata = metadata
        if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
        logger.log(level: level, message(), metadata: metadata)
    }
}
